/** A store could not do its job: unavailable, busy past its timeout, corrupt, or written by a newer release. */
export class StoreError extends Error {
  /** Stable code: `STORE_UNAVAILABLE`, `STORE_BUSY`, `STORE_CORRUPT`, `STORE_VERSION`, `STORE_CLOSED`, `STORE_WRITE`. */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
