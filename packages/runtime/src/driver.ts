/**
 * The driver loop every off-chain role shares (sequencer, batcher, proposer, challenger, ZK
 * operator, channel node, watchtower…): one `tick()` at a time, on an interval, never
 * overlapping; a failed tick is logged and counted, never thrown, and the loop goes on.
 */
import { toStrataError } from '@strata/primitives';

/** The one logger call a driver makes (pino and the layers' own logger shapes all fit). */
export interface DriverLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Runs `tick` every `intervalMs` (never overlapping) until stopped. */
export class Driver {
  private timer: NodeJS.Timeout | undefined;
  /** The last tick started (by the loop or a kick), settled either way: the next one chains after it. */
  private tail: Promise<void> = Promise.resolve();
  private stopped = true;

  /**
   * @param name role name, logged with each failed iteration
   * @param intervalMs pause between the end of one tick and the start of the next
   * @param tick one iteration of the role
   * @param log where a failed iteration is reported
   * @param onError called on each failed iteration (a metrics counter, typically)
   */
  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly log: DriverLogger,
    private readonly onError: () => void = () => {},
  ) {}

  /** Starts the loop (the first tick runs on the next turn of the event loop); idempotent. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      await this.next().catch((e) => {
        const err = toStrataError(e);
        this.onError();
        this.log.warn({ role: this.name, code: err.code, error: err.message }, 'driver iteration failed; retrying');
      });
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  /**
   * Runs one iteration now, after the one in flight (tests); its error is thrown. It is chained
   * like the loop's own ticks, so neither the loop nor another kick runs one beside it (before,
   * the loop's timer could start a tick while a kicked one ran).
   */
  async kick(): Promise<void> {
    await this.next();
  }

  /** Starts a tick once every tick started before has settled (the claim is synchronous: two callers never both run). */
  private next(): Promise<void> {
    const t = this.tail.then(() => this.tick());
    this.tail = t.then(
      () => undefined,
      () => undefined,
    );
    return t;
  }

  /** Stops the loop and waits for the tick in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.tail;
  }
}
