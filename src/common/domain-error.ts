/**
 * What went wrong, in the domain's words; the one HTTP exception filter turns the kind into a
 * status (rejected 400, not-found 404, conflict 409, unavailable 503). Domain modules (storage,
 * scanning) throw these and never an HTTP exception: they know nothing about HTTP.
 */
export type DomainErrorKind = 'rejected' | 'not-found' | 'conflict' | 'unavailable';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;

  /** What a client may be told: the message, unless it may hold something of the server's (a path on disk). */
  get publicMessage(): string {
    return this.message;
  }
}
