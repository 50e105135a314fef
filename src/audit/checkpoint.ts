import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hash,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { canonicalJson } from '../core/canonical.ts';
import { ConfigError } from '../errors.ts';

/** A signed statement of the log's state: its first `size` records have Merkle root `root`. */
export interface Checkpoint {
  size: number;
  /** RFC 6962 Merkle tree hash of records 1..size, hex. */
  root: string;
  at: number;
  /** Which key signed it; null when the log has no key. */
  keyId: string | null;
  /** Ed25519 signature over {@link checkpointMessage}, base64; null when unsigned. */
  signature: string | null;
  /** Size of the checkpoint before this one (0 for the first): deleting a checkpoint breaks this chain. */
  previous: number;
}

/** The bytes a checkpoint signature covers; domain-separated from every other signed or hashed text. */
export function checkpointMessage(size: number, root: string, at: number, previous: number): Buffer {
  return Buffer.from(canonicalJson(['ruleoftwo/audit-checkpoint/v1', size, root, at, previous]));
}

/** An Ed25519 signing key for checkpoints. Only its public half and id are ever shown. */
export class AuditKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  readonly #privateKey: KeyObject;

  constructor(privateKey: KeyObject) {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError('the audit key must be an Ed25519 private key');
    }
    this.#privateKey = privateKey;
    this.publicKey = createPublicKey(privateKey);
    this.keyId = keyIdOf(this.publicKey);
  }

  /** Signs a checkpoint of the log's first `size` records. */
  sign(size: number, root: string, at: number, previous: number): Checkpoint {
    const signature = sign(null, checkpointMessage(size, root, at, previous), this.#privateKey).toString('base64');
    return { size, root, at, keyId: this.keyId, signature, previous };
  }

  /** The public key as PEM, for `audit verify --public-key`. */
  publicPem(): string {
    return canonicalPublicPem(this.publicKey);
  }

  toJSON(): { keyId: string } {
    return { keyId: this.keyId };
  }
}

/** A public key as the PEM text the log stores: one text per key, so an edit of the text is an edit of the key. */
export function canonicalPublicPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** A short, stable id of a public key: the first 16 hex digits of SHA-256 over its SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return hash('sha256', publicKey.export({ type: 'spki', format: 'der' }), 'hex').slice(0, 16);
}

/** A fresh Ed25519 key pair as PEM text. */
export function generateAuditKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: canonicalPublicPem(publicKey),
  };
}

/** Environment variables that configure the signing key: PEM text, or a file holding it. */
export const KEY_ENV = 'RULEOFTWO_AUDIT_KEY';
/** See {@link KEY_ENV}. */
export const KEY_FILE_ENV = 'RULEOFTWO_AUDIT_KEY_FILE';

/**
 * The checkpoint signing key from `key` (PEM text), `keyFile`, or the environment; undefined when none is set.
 * Errors name where the key came from, never its contents.
 */
export function loadAuditKey(
  options: { key?: string; keyFile?: string; env?: Record<string, string | undefined> } = {},
): AuditKey | undefined {
  const env = options.env ?? process.env;
  const file = options.keyFile ?? (options.key === undefined ? env[KEY_FILE_ENV] : undefined);
  let pem = options.key ?? (file === undefined ? env[KEY_ENV] : undefined);
  const where = options.key !== undefined ? 'the `key` option' : file !== undefined ? `\`${file}\`` : `$${KEY_ENV}`;
  if (pem === undefined && file !== undefined) {
    try {
      pem = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `cannot read the audit key file ${where}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`,
      );
    }
  }
  if (pem === undefined || pem.trim() === '') return undefined;
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ConfigError(`the audit key in ${where} is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError(`the audit key in ${where} is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  return new AuditKey(key);
}

/** Reads a PEM public key (or a private key, whose public half is used) for verification. */
export function publicKeyFromPem(pem: string, where: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return key;
  } catch {
    throw new ConfigError(`${where} is not an Ed25519 public key in PEM form`);
  }
}

/** Whether a checkpoint's signature is valid under `publicKey`. */
export function checkSignature(checkpoint: Checkpoint, publicKey: KeyObject): boolean {
  if (checkpoint.signature === null) return false;
  try {
    const signature = Buffer.from(checkpoint.signature, 'base64');
    if (signature.toString('base64') !== checkpoint.signature) return false;
    const { size, root, at, previous } = checkpoint;
    return verify(null, checkpointMessage(size, root, at, previous), publicKey, signature);
  } catch {
    return false;
  }
}
