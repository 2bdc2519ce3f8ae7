import { spawn, type ChildProcess } from 'node:child_process';

export interface DevnetProcess {
  child: ChildProcess;
  banner: {
    layers: { l1: { rpc: string; ws: string; metrics: string; genesisHash: string; head: number }; [k: string]: unknown };
    dataDir: string;
    adminToken: string;
    accounts: { index: number; address: string; addressHex: string; secretKey: string; balance: string }[];
  };
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `strata devnet --json` as a child process and waits for its banner. */
export function startDevnetProcess(args: string[] = []): Promise<DevnetProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/strata.js', 'devnet', '--port', '0', '--json', ...(args.includes('--zk') ? args.filter((a) => a !== '--zk') : ['--no-zk', ...args])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        child.kill('SIGKILL');
        reject(new Error(`devnet did not print its banner in time: ${out} ${err}`));
      }
    }, args.includes('--zk') ? 300_000 : 60_000); // a fresh clone builds the ZK keys first (CI-sized: under a minute)
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (done) return;
      try {
        const banner = JSON.parse(out);
        done = true;
        clearTimeout(timer);
        resolve({
          child,
          banner,
          stop: (signal = 'SIGINT') =>
            new Promise((res) => {
              if (child.exitCode !== null) return res(child.exitCode);
              child.once('exit', (code) => res(code));
              child.kill(signal);
            }),
        });
      } catch {
        // banner not complete yet
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      if (!done) {
        clearTimeout(timer);
        reject(new Error(`devnet exited (${code}) before its banner: ${err}`));
      }
    });
  });
}
