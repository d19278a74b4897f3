/**
 * Imported first by the face-inspection thread (thread.ts), before tfjs: source maps off in that
 * thread. The service runs with --enable-source-maps (the Docker image's NODE_OPTIONS) and tsx turns
 * them on in development and tests; Node then parses the source map of every module it loads, and
 * tfjs ships megabytes of them: about 45 MB of heap per thread, for stack traces that never leave
 * the thread (its errors go to the pool as messages). The rest of the process keeps its source maps.
 */
process.setSourceMapsEnabled(false);
