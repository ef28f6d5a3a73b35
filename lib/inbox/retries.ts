// Shared by the inbox function and the queue that feeds it (infra), without the function's imports.

/**
 * Receives of one notification before an upload whose key has no free concurrency slot is recorded as a failed job
 * (concurrency_limit_exceeded) instead of waiting again. Each wait is the inbox queue's visibility timeout.
 */
export const inboxAttempts = 6;
