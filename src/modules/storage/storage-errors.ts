import { DomainError } from '../../common/domain-error.js';
import type { DomainErrorKind } from '../../common/domain-error.js';

/** A path (or a template split on "/") that breaks API.md's rules; the message says which rule. */
export class PathRejected extends DomainError {
  readonly kind: DomainErrorKind = 'rejected';
}

/** The path is well-formed but nothing is there. A PathRejected, for callers that treat both alike. */
export class PathNotFound extends PathRejected {
  override readonly kind: DomainErrorKind = 'not-found';
}

/**
 * A path leads outside the user's folder or through a symbolic link. Its message may name a folder
 * on the server's disk: clients are told only what happened.
 */
export class PathEscapes extends DomainError {
  readonly kind: DomainErrorKind = 'rejected';

  override get publicMessage(): string {
    return 'path leads through a symbolic link';
  }
}

export const S3_NOT_CONFIGURED = 'S3 storage is not configured on this server (S3_BUCKET is not set)';

/** A request for a backend this server does not have (S3 without S3_BUCKET). */
export class StorageNotConfigured extends DomainError {
  readonly kind: DomainErrorKind = 'rejected';

  constructor(message = S3_NOT_CONFIGURED) {
    super(message);
  }
}
