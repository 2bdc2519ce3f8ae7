/** `strata rollup challenger | status`: run a challenger against any L1, or show the rollup's heads and outputs. */
import type { Command } from 'commander';
import { decodeAddress, fromHex, keyPairFromSecret, StrataError } from '@strata/primitives';
import { devAccounts } from '@strata/devnet';
import { RpcClient } from '@strata/rpc';
import { checkArgs } from '../args.js';
import { resolveRpc } from '../layers.js';
import { fail, print } from '../output.js';

export function registerRollupCommands(program: Command): void {
  const rollup = program.command('rollup').description('Optimistic rollup roles and status');
  rollup
    .command('challenger')
    .description('Watch every output root on L1, dispute wrong ones and play each game to the end (derives the L2 from L1 data alone)')
    .option('--l1-rpc <url>', 'L1 JSON-RPC endpoint (default: the running devnet\'s, $STRATA_RPC, or http://127.0.0.1:8545)')
    .option('--key <0xsecret|index>', 'L1 key that pays bonds and fees (default: dev account 6)', '6')
    .option('--batcher <0xaddress>', 'the rollup batcher address (default: the devnet\'s, dev account 9)')
    .option('--interval <ms>', 'poll interval', '1000')
    .option('--log-level <level>', 'log level', 'info')
    .action(async (f: { l1Rpc?: string; key: string; batcher?: string; interval: string; logLevel: string }) => {
      try {
        checkArgs((c) => {
          c.url('--l1-rpc', f.l1Rpc);
          c.signer('--key', f.key);
          c.address('--batcher', f.batcher, { optional: true });
          c.integer('--interval', f.interval);
        });
        const { ChallengerService, defaultRollupConfig, RollupNode, RpcL1Client } = await import('@strata/optimistic');
        const { createLogger } = await import('../logger.js');
        const l1Rpc = resolveRpc({ rpc: f.l1Rpc }, 'l1');
        const accounts = devAccounts('st', 10);
        const key = /^\d+$/.test(f.key) ? accounts[Number(f.key)]?.keys : keyPairFromSecret(fromHex(f.key, 32));
        if (!key) throw new StrataError('INVALID_KEY', `no dev account ${f.key}`);
        const cfg = defaultRollupConfig({ batcher: f.batcher ? (f.batcher.startsWith('0x') ? fromHex(f.batcher, 20) : decodeAddress(f.batcher)) : (accounts[9] as (typeof accounts)[number]).keys.address, challengeWindow: 10, clockBlocks: 12, takeoverBlocks: 4, sequencingWindow: 10 });
        const logger = createLogger({ level: f.logLevel });
        const node = new RollupNode({ rollup: cfg }, new RpcL1Client(l1Rpc), { logger });
        const svc = new ChallengerService(node, { key, intervalMs: Number(f.interval) }, logger);
        svc.start();
        logger.info({ l1: l1Rpc }, 'challenger running (Ctrl-C stops)');
        const stop = async () => {
          await svc.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void stop());
        process.on('SIGTERM', () => void stop());
      } catch (e) {
        fail(false, e);
      }
    });
  rollup
    .command('status')
    .description('The L2 heads (unsafe, safe, finalized) and recent output roots')
    .option('--l2-rpc <url>', 'L2 JSON-RPC endpoint (default: the running devnet\'s --layer, $STRATA_L2_RPC, or http://127.0.0.1:8546)')
    .option('--layer <name>', 'the rollup layer of the running devnet', 'l2')
    .option('--json', 'print machine-readable JSON')
    .action(async (f: { l2Rpc?: string; layer?: string; json?: boolean }) => {
      try {
        checkArgs((c) => c.url('--l2-rpc', f.l2Rpc));
        const c = new RpcClient(resolveRpc({ rpc: f.l2Rpc, layer: f.layer }, 'l2', 'STRATA_L2_RPC'));
        const heads = await c.call<{ unsafe: number; safe: number; finalized: number }>('rollup_getHeads');
        const outputs = await c.call<{ index: number; l2Block: number; status: string; matchesLocal: boolean | null }[]>('rollup_getOutputs');
        print(!!f.json, { heads, outputs }, () =>
          [`heads: unsafe #${heads.unsafe}  safe #${heads.safe}  finalized #${heads.finalized}`, ...outputs.map((o) => `output ${o.index}: L2 block #${o.l2Block}  ${o.status}${o.matchesLocal === false ? '  (WRONG root)' : ''}`)].join('\n'),
        );
      } catch (e) {
        fail(!!f.json, e);
      }
    });
}
