/** The activity header that carries the HTTP request id. Pure: workflows import it too. */
export const REQUEST_ID_HEADER = 'request-id';
