/**
 * Argument checks that run before a command calls any node: every bad argument is named at
 * once in one INVALID_ARGUMENT error (`--to "nonsense" is not an address …; --amount "-5" …`),
 * so a typo never turns into "the RPC is unreachable". What needs the chain (the address prefix)
 * is checked again once the node answered, by the node's own parsers.
 */
import { decodeAddress, StrataError } from '@strata/primitives';

/** Collects argument errors; {@link ArgCheck.done} throws them together. */
export class ArgCheck {
  private readonly errors: string[] = [];

  /** A recipient: bech32m (`st1…`) or 0x + 40 hex digits; with `allowIndex`, a dev account index too. */
  address(name: string, value: string | undefined, opts: { allowIndex?: boolean; optional?: boolean } = {}): void {
    if (value === undefined) {
      if (!opts.optional) this.errors.push(`${name} is required`);
      return;
    }
    if (opts.allowIndex && /^\d+$/.test(value)) return;
    if (/^0x[0-9a-fA-F]{40}$/.test(value)) return;
    try {
      decodeAddress(value);
    } catch {
      this.errors.push(`${name} ${JSON.stringify(value)} is not an address (a bech32m address such as st1…, or 0x and 40 hex digits${opts.allowIndex ? ', or a dev account index' : ''})`);
    }
  }

  /** An amount in base units: a whole number, at least `min` (default 1). */
  amount(name: string, value: string | undefined, opts: { min?: bigint; optional?: boolean } = {}): void {
    if (value === undefined) {
      if (!opts.optional) this.errors.push(`${name} is required`);
      return;
    }
    const min = opts.min ?? 1n;
    if (!/^\d+$/.test(value)) this.errors.push(`${name} ${JSON.stringify(value)} must be a whole number of base units (1 STRA = 100000000)${min > 0n ? ', above 0' : ''}`);
    else if (BigInt(value) < min) this.errors.push(`${name} ${JSON.stringify(value)} must be at least ${min}`);
  }

  /** A non-negative integer (a nonce, an index, a block number). */
  integer(name: string, value: string | undefined): void {
    if (value !== undefined && !/^\d+$/.test(value)) this.errors.push(`${name} ${JSON.stringify(value)} must be a whole number`);
  }

  /** A signer: a dev account index, a 0x secret key (64 hex digits) or, with `allowAddress`, a keystore address. */
  signer(name: string, value: string | undefined, opts: { allowAddress?: boolean } = {}): void {
    if (value === undefined || /^\d+$/.test(value) || /^0x[0-9a-fA-F]{64}$/.test(value)) return;
    if (opts.allowAddress) {
      const before = this.errors.length;
      this.address(name, value);
      if (this.errors.length > before) this.errors[this.errors.length - 1] = `${name} ${JSON.stringify(value)} is not a dev account index, a 0x secret key (64 hex digits) or an address`;
      return;
    }
    this.errors.push(`${name} ${JSON.stringify(value)} must be a dev account index or a 0x secret key (64 hex digits)`);
  }

  /** A 32-byte 0x hash. */
  hash(name: string, value: string | undefined): void {
    if (value !== undefined && !/^0x[0-9a-fA-F]{64}$/.test(value)) this.errors.push(`${name} ${JSON.stringify(value)} must be a 0x hash of 64 hex digits`);
  }

  /** A block: number, 0x hash or one of the tags. */
  block(name: string, value: string | undefined, tags: readonly string[] = ['latest', 'finalized', 'safe', 'unsafe', 'earliest']): void {
    if (value === undefined || /^\d+$/.test(value) || /^0x[0-9a-fA-F]{64}$/.test(value) || tags.includes(value)) return;
    this.errors.push(`${name} ${JSON.stringify(value)} must be a block number, a 0x block hash or one of ${tags.join(', ')}`);
  }

  /** An http(s) or ws(s) URL. */
  url(name: string, value: string | undefined, protocols: readonly string[] = ['http:', 'https:']): void {
    if (value === undefined) return;
    let ok = false;
    try {
      ok = protocols.includes(new URL(value).protocol);
    } catch {
      ok = false;
    }
    if (!ok) this.errors.push(`${name} ${JSON.stringify(value)} is not a valid ${protocols.map((p) => p.replace(':', '')).join('/')} URL (e.g. http://127.0.0.1:8545)`);
  }

  /** Adds a custom error. */
  fail(message: string): void {
    this.errors.push(message);
  }

  /** Throws INVALID_ARGUMENT listing every error found, if any. */
  done(): void {
    if (this.errors.length === 0) return;
    throw new StrataError('INVALID_ARGUMENT', `invalid argument${this.errors.length > 1 ? 's' : ''}: ${this.errors.join('; ')}`, { errors: [...this.errors] });
  }
}

/** Runs `fill` on a fresh {@link ArgCheck} and throws if it found anything. */
export function checkArgs(fill: (c: ArgCheck) => void): void {
  const c = new ArgCheck();
  fill(c);
  c.done();
}
