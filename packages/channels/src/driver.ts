/** The driver loop every channel role shares: one `tick()` at a time on an interval; errors logged, never thrown. */
import { toStrataError } from '@strata/primitives';
import type { Logger } from 'pino';

/** Runs `tick` every `intervalMs` (never overlapping) until stopped. */
export class Driver {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly log: Logger,
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

  /** Runs one iteration now (tests). */
  async kick(): Promise<void> {
    await this.running;
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
