/** ISO 8601 for API responses; null stays null. */
export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
