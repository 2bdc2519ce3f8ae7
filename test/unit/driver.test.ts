import { describe, expect, it } from 'vitest';
import { Driver } from '@strata/runtime';

const quiet = { warn: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Driver', () => {
  it('never runs two ticks at once, also when a test kicks it while the loop runs (kick went around `running`: the channel chain watch could send one on-chain action twice)', async () => {
    let inTick = 0;
    let most = 0;
    let ticks = 0;
    const d = new Driver('t', 1, async () => {
      inTick++;
      most = Math.max(most, inTick);
      await sleep(15);
      ticks++;
      inTick--;
    }, quiet);
    d.start();
    for (let i = 0; i < 6; i++) await Promise.all([d.kick(), d.kick()]);
    await d.stop();
    expect(ticks).toBeGreaterThanOrEqual(12);
    expect(most).toBe(1);
  });

  it('kick throws its own tick\'s error; a failing loop tick is reported and the loop goes on', async () => {
    let fail = true;
    const k = new Driver('t', 1, async () => {
      if (fail) throw new Error('boom');
    }, quiet);
    await expect(k.kick()).rejects.toThrow('boom');
    fail = false;
    await k.kick();
    let n = 0;
    let errors = 0;
    const d = new Driver('t', 1, async () => {
      n++;
      if (n % 2 === 0) throw new Error('every other');
    }, quiet, () => errors++);
    d.start();
    await sleep(40);
    await d.stop();
    expect(n).toBeGreaterThan(3);
    expect(errors).toBeGreaterThan(0);
  });
});
