/** The driver loop every ZK role shares: one `tick()` at a time, on an interval, errors logged not thrown. */
import { toStrataError } from '@strata/primitives';

/** Logger shape the roles use (pino-compatible). */
export interface ZkLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  debug?(obj: Record<string, unknown>, msg: string): void;
}

/** A logger that drops everything. */
export const silentLogger: ZkLogger = { info() {}, warn() {} };

/** Runs `tick` every `intervalMs` (never overlapping) until stopped. */
export class Driver {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly log: ZkLogger,
    private readonly onError: () => void = () => {},
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      this.running = this.tick().catch((e) => {
        const err = toStrataError(e);
        this.onError();
        this.log.warn({ role: this.name, code: err.code, error: err.message }, 'driver iteration failed; retrying');
      });
      await this.running;
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs);
    };
    this.timer = setTimeout(loop, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
