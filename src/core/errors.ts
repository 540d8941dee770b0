/**
 * An error whose message is the whole story for a user: bad input, a path that cannot be
 * written. The command line prints its message as one line (no stack trace) and exits 2.
 */
export class UserError extends Error {}
