import { setupCircuit } from '@strata/zk';
import { devnetChainConfig, devnetZkParams } from '@strata/devnet';
const n = Number(process.argv[2] ?? 8);
const t = Date.now();
const p = { ...devnetZkParams(devnetChainConfig().chainId), batchSize: n };
const a = await setupCircuit(p, { onProgress: (s, f) => console.log(((Date.now()-t)/1000).toFixed(1), s, f.toFixed(2)) });
console.log('done', JSON.stringify(p), a.hash, a.constraints, (Date.now() - t) / 1000);
process.exit(0);
