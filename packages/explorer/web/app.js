// The Strata explorer: one page across every layer. Plain ES modules (preact + htm), no build
// step. Heads arrive live over WebSocket (/ws/<layer>, proxied to each chain's newHeads); the
// event feed over server-sent events (/api/events); everything else is read-only JSON-RPC
// through /rpc/<layer>. A layer that does not answer is shown as down, by name.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { bech32m } from './bech32.js';

const html = htm.bind(h);

// ---------- data ----------

let rpcId = 1;
/** JSON-RPC call to a layer through the explorer's proxy; throws Error with the layer's message. */
async function rpc(layer, method, params = []) {
  const res = await fetch(`/rpc/${layer}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method, params }) });
  const body = await res.json();
  if (body.error) throw new Error(body.error.message);
  return body.result;
}
const getJson = async (url) => {
  const r = await fetch(url);
  const b = await r.json();
  if (!r.ok) throw new Error(b.error ?? `HTTP ${r.status}`);
  return b;
};
const num = (q) => (q == null ? null : Number(q));
const COIN = 100000000n;
function coins(units) {
  if (units == null) return '—';
  const v = BigInt(units);
  const frac = (v % COIN).toString().padStart(8, '0').replace(/0+$/, '');
  return `${v / COIN}${frac ? `.${frac}` : ''} STRA`;
}
/** An address as the layer writes it (bech32m with its prefix). */
const addrOn = (layer, hex) => bech32m(store.status[layer]?.prefix ?? (layer === 'l1' ? 'st' : 'sl'), hex);
const short = (s, n = 10) => (s && s.length > 2 * n + 2 ? `${s.slice(0, n + 2)}…${s.slice(-n)}` : s);
const ago = (ms) => {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
};

/** A tiny store: the page re-renders when it changes. */
const store = {
  layers: [],
  accounts: [],
  status: {}, // name -> { up, head, error, headBlock }
  heads: {}, // name -> [recent head objects, newest first]
  events: [],
  listeners: new Set(),
  set(patch) {
    Object.assign(this, patch);
    for (const l of this.listeners) l();
  },
};
function useStore() {
  const [, tick] = useState(0);
  useEffect(() => {
    const f = () => tick((x) => x + 1);
    store.listeners.add(f);
    return () => store.listeners.delete(f);
  }, []);
  return store;
}

function setStatus(name, patch) {
  store.set({ status: { ...store.status, [name]: { ...(store.status[name] ?? {}), ...patch } } });
}

/** Follows one layer's heads over WebSocket; reconnects every 2 s while it is down. */
function followHeads(layer) {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/${layer.name}`);
  let opened = false;
  ws.onopen = () => {
    opened = true;
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'chain_subscribe', params: ['newHeads'] }));
    rpc(layer.name, 'chain_getHead')
      .then((head) => onHead(layer.name, head))
      .catch(() => {});
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.method && msg.params?.result) onHead(layer.name, msg.params.result);
  };
  ws.onclose = (e) => {
    setStatus(layer.name, { up: false, error: e.reason || (opened ? 'connection closed' : 'cannot connect') });
    setTimeout(() => followHeads(layer), 2000);
  };
}

/** Asks every layer for its head every 3 s as well: a layer whose socket is quiet or stuck is still seen, and seen down. */
function pollHeads() {
  for (const l of store.layers) {
    if (l.kind === 'zk') {
      rpc(l.name, 'zk_getBatches').then(
        (b) => setStatus(l.name, { up: true, error: null, head: b.length }),
        (e) => setStatus(l.name, { up: false, error: e.message }),
      );
      continue;
    }
    if (l.kind === 'channels') {
      // Not a chain: "up" when its first node answers; the count of channels in its graph as the head.
      rpc(l.name, 'channel_graph').then(
        (g) => setStatus(l.name, { up: true, error: null, head: g.channels.length }),
        (e) => setStatus(l.name, { up: false, error: e.message }),
      );
      continue;
    }
    rpc(l.name, 'chain_getHead').then(
      (head) => onHead(l.name, head),
      (e) => setStatus(l.name, { up: false, error: e.message }),
    );
  }
  setTimeout(pollHeads, 3000);
}

function onHead(name, head) {
  const top = store.heads[name]?.[0];
  if (top && num(top.number) >= num(head.number)) {
    setStatus(name, { up: true, error: null, head: num(top.number) });
    return;
  }
  const list = [head, ...(store.heads[name] ?? []).filter((b) => b.hash !== head.hash && num(b.number) < num(head.number))].slice(0, 15);
  store.set({ heads: { ...store.heads, [name]: list } });
  setStatus(name, { up: true, error: null, head: num(head.number), seenAt: Date.now() });
}

function followEvents() {
  const es = new EventSource('/api/events');
  es.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.kind === 'layer.down') setStatus(e.layer, { up: false, error: e.data?.error ?? 'down' });
    store.set({ events: [...store.events.slice(-499), e] });
  };
}

async function boot() {
  const info = await getJson('/api/layers');
  const status = {};
  for (const s of info.status) status[s.name] = { up: s.up, head: s.head, error: s.up ? null : s.error, prefix: s.prefix };
  store.set({ layers: info.layers, accounts: info.accounts, status });
  for (const l of info.layers) if (l.kind !== 'channels' && l.kind !== 'zk') followHeads(l);
  pollHeads();
  followEvents();
}

// ---------- routing ----------

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const f = () => setHash(location.hash || '#/');
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return hash.slice(1).split('/').filter(Boolean).map(decodeURIComponent);
}

/** Loads `fn()` now and every `ms` while the page is open; returns { data, error }. */
function usePoll(fn, deps, ms = 0) {
  const [state, setState] = useState({ data: undefined, error: null });
  useEffect(() => {
    let live = true;
    const run = () =>
      fn().then(
        (data) => live && setState({ data, error: null }),
        (e) => live && setState((s) => ({ data: s.data, error: e.message })),
      );
    run();
    const t = ms ? setInterval(run, ms) : undefined;
    return () => {
      live = false;
      if (t) clearInterval(t);
    };
  }, deps);
  return state;
}

// ---------- components ----------

function Header() {
  const s = useStore();
  const [q, setQ] = useState('');
  const submit = (e) => {
    e.preventDefault();
    if (q.trim()) location.hash = `#/search/${encodeURIComponent(q.trim())}`;
  };
  return html`<header>
    <h1><a href="#/">Strata explorer</a></h1>
    <form onSubmit=${submit}>
      <input data-testid="search" placeholder="Search a block hash, tx hash, height or address on every layer" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <button type="submit">Search</button>
    </form>
    <div class="chips">
      ${s.layers.map((l) => {
        const st = s.status[l.name] ?? {};
        return html`<a href=${`#/layer/${l.name}`} class=${`chip ${st.up ? 'up' : st.error ? 'down' : ''}`} data-testid=${`layer-${l.name}`} data-up=${st.up ? '1' : '0'} data-head=${st.head ?? ''}>
          <span class="dot"></span>${l.name}${l.kind !== l.name ? html` <span class="dim">${l.kind}</span>` : ''} ${st.up ? html`#<b>${st.head}</b>` : st.error ? 'down' : '…'}
        </a>`;
      })}
    </div>
  </header>`;
}

function DownBanners() {
  const s = useStore();
  return s.layers
    .filter((l) => s.status[l.name] && !s.status[l.name].up && s.status[l.name].error)
    .map((l) => html`<div class="banner" data-testid=${`down-${l.name}`}>⚠ ${l.name} (${l.kind}) is down: ${s.status[l.name].error} — ${l.rpc}</div>`);
}

function EventList({ layer, kinds, limit = 100 }) {
  const s = useStore();
  const list = s.events.filter((e) => (!layer || e.layer === layer) && (!kinds || kinds.some((k) => e.kind.startsWith(k)))).slice(-limit).reverse();
  return html`<div class="events" data-testid="events">
    ${list.length === 0 ? html`<div class="dim">No events yet.</div>` : ''}
    ${list.map(
      (e) => html`<div class=${`k-${e.kind}`} data-kind=${e.kind}>
        <span class="layer">${e.layer}</span> ${e.text}
        ${e.tx ? html` <a class="mono" href=${`#/layer/${e.chain}/tx/${e.tx}`}>tx</a>` : ''}
        <span class="dim"> · ${ago(e.time)}</span>
      </div>`,
    )}
  </div>`;
}

function BlockList({ layer }) {
  const s = useStore();
  const heads = s.heads[layer] ?? [];
  return html`<table data-testid=${`blocks-${layer}`}>
    <tr><th>block</th><th>hash</th><th>txs</th><th>time</th></tr>
    ${heads.map(
      (b) => html`<tr data-testid="block-row" data-number=${num(b.number)}>
        <td><a href=${`#/layer/${layer}/block/${num(b.number)}`}>#${num(b.number)}</a></td>
        <td class="mono">${short(b.hash, 8)}</td>
        <td>${b.transactions ? b.transactions.length : (b.operations ?? '')}</td>
        <td class="dim">${b.timestamp ? ago(num(b.timestamp)) : ''}</td>
      </tr>`,
    )}
  </table>`;
}

function Overview() {
  const s = useStore();
  return html`<div class="grid">
    ${s.layers.map((l) => {
      const st = s.status[l.name] ?? {};
      return html`<section data-testid=${`card-${l.name}`}>
        <h2><a href=${`#/layer/${l.name}`}>${l.name}</a> <small>${l.kind}${l.parent ? ` on ${l.parent}` : ''}</small></h2>
        <div class="dim mono">${l.rpc}</div>
        <p>${st.up ? html`<span class="pill good">up</span> head #${st.head}` : html`<span class="pill bad">down</span> <span class="error">${st.error ?? ''}</span>`}</p>
        ${
          l.kind === 'zk'
            ? html`<p class="dim">${st.head ?? 0} batches · <a href=${`#/layer/${l.name}`}>batches, proofs, exodus, accounts</a></p>`
            : l.kind !== 'channels'
              ? html`<${BlockList} layer=${l.name} />`
              : html`<p class="dim">${st.head ?? 0} channels in the graph · <a href=${`#/layer/${l.name}`}>graph and balances</a></p>`
        }
      </section>`;
    })}
    <section>
      <h2>Events <small>every layer, live</small></h2>
      <${EventList} />
    </section>
    ${
      s.accounts.length
        ? html`<section>
            <h2>Dev accounts</h2>
            <table>${s.accounts.map((a) => html`<tr><td>${a.index}</td><td class="mono"><a href=${`#/address/${a.address}`}>${a.address}</a></td></tr>`)}</table>
          </section>`
        : ''
    }
  </div>`;
}

function Risk({ layer }) {
  const { data, error } = usePoll(() => getJson(`/api/risk/${layer}`), [layer], 10000);
  return html`<section data-testid="risk">
    <h2>Risk <small>L2BEAT's terms, from the chain's configuration</small></h2>
    ${error ? html`<p class="error">${error}</p>` : ''}
    <table>
      ${(data ?? []).map(
        (r) => html`<tr data-aspect=${r.aspect}>
          <td>${r.aspect}</td><td><span class=${`pill ${r.level}`}>${r.value}</span></td><td class="dim">${r.detail}</td>
        </tr>`,
      )}
    </table>
  </section>`;
}

const STAGES = ['waiting for root', 'in challenge window', 'ready', 'finalized'];
function Stages({ stage }) {
  const at = STAGES.indexOf(stage);
  return html`<div class="stages">${STAGES.map((st, i) => html`<span class=${i < at ? 'done' : i === at ? (st === 'finalized' ? 'done' : 'now') : ''}>${st}</span>`)}</div>`;
}

function RollupPanels({ layer }) {
  const s = useStore();
  const parent = layer.parent;
  const l1Head = s.status[parent]?.head ?? 0;
  const cfg = usePoll(() => rpc(layer.name, 'rollup_getConfig'), [layer.name]);
  const outputs = usePoll(() => rpc(layer.name, 'rollup_getOutputs'), [layer.name], 2000);
  const games = usePoll(() => rpc(layer.name, 'rollup_getGames'), [layer.name], 2000);
  const wds = usePoll(() => rpc(layer.name, 'rollup_listWithdrawals'), [layer.name], 1500);
  const heads = usePoll(() => rpc(layer.name, 'rollup_getHeads'), [layer.name], 1500);
  const win = cfg.data?.challengeWindow ?? 0;
  const batches = s.events.filter((e) => e.layer === layer.name && e.kind === 'batch').slice(-20).reverse();
  const moves = (id) => s.events.filter((e) => e.layer === layer.name && e.kind.startsWith('game.') && Number(e.data.gameId) === id);
  return html`
    <section data-testid="heads">
      <h2>Heads <small>unsafe = sequenced · safe = batch on ${parent} · finalized = batch final on ${parent}</small></h2>
      ${heads.error ? html`<p class="error">${heads.error}</p>` : ''}
      ${heads.data ? html`<p>unsafe #<b>${heads.data.unsafe}</b> · safe #<b>${heads.data.safe}</b> · finalized #<b>${heads.data.finalized}</b> · ${parent} #${heads.data.l1?.height}</p>` : ''}
    </section>
    <section data-testid="batches">
      <h2>Batches <small>posted to ${parent}</small></h2>
      <table>
        <tr><th>batch</th><th>L2 blocks</th><th>ops</th><th>bytes</th><th>${parent} block</th></tr>
        ${batches.map(
          (e) => html`<tr data-testid="batch-row"><td>${e.data.index}</td><td>#${e.data.firstBlock}–#${Number(e.data.firstBlock) + Number(e.data.blocks) - 1}</td><td>${e.data.ops}</td><td>${e.data.bytes}</td>
            <td><a href=${`#/layer/${e.chain}/block/${e.block}`}>#${e.block}</a></td></tr>`,
        )}
      </table>
    </section>
    <section data-testid="outputs">
      <h2>Output roots <small>challenge window ${win} ${parent} blocks</small></h2>
      ${outputs.error ? html`<p class="error">${outputs.error}</p>` : ''}
      <table>
        <tr><th>#</th><th>L2 block</th><th>state root</th><th>posted at</th><th>status</th><th>clock</th></tr>
        ${(outputs.data ?? [])
          .slice()
          .reverse()
          .map((o) => {
            const left = o.l1Height + win - l1Head;
            return html`<tr data-testid="output-row" data-status=${o.status}>
              <td>${o.index}</td><td>#${o.l2Block}</td><td class="mono">${short(o.stateRoot, 6)}${o.matchesLocal === false ? html` <span class="pill bad">wrong</span>` : ''}</td>
              <td>${parent} #${o.l1Height}</td>
              <td><span class=${`pill ${o.status === 'final' ? 'good' : o.status === 'discarded' ? 'bad' : 'warning'}`}>${o.status}</span></td>
              <td class="clock">${o.status === 'in challenge window' ? (left > 0 ? `${left} ${parent} blocks left` : 'window over') : ''}</td>
            </tr>`;
          })}
      </table>
    </section>
    <section data-testid="games">
      <h2>Dispute games <small>move by move</small></h2>
      ${(games.data ?? []).length === 0 ? html`<p class="dim">No disputes. Start the devnet with --malicious-proposer to watch one.</p>` : ''}
      ${(games.data ?? [])
        .slice()
        .reverse()
        .map(
          (g) => html`<div data-testid="game" data-status=${g.status}>
            <p><b>game ${g.id}</b> against output ${g.outputIndex} · ops ${g.lo}–${g.hi} · ${g.moves} moves · <span class=${`pill ${g.status === 'open' ? 'warning' : 'good'}`}>${g.status}</span>${g.status === 'open' ? ` · ${g.turn} to move` : ''}</p>
            ${moves(g.id).map((e) => html`<div class="move" data-testid="move">${e.text}</div>`)}
          </div>`,
        )}
    </section>
    <section data-testid="withdrawals">
      <h2>Withdrawals <small>to ${parent}</small></h2>
      ${wds.error ? html`<p class="error">${wds.error}</p>` : ''}
      <table>
        <tr><th>#</th><th>amount</th><th>to</th><th>stage</th></tr>
        ${(wds.data ?? [])
          .slice()
          .reverse()
          .map(
            (w) => html`<tr data-testid="withdrawal-row" data-id=${w.id} data-stage=${w.stage}>
              <td>${w.id}</td><td>${coins(w.amount)}</td><td class="mono"><a href=${`#/address/${w.to}`}>${addrOn(parent, w.to)}</a></td>
              <td><${Stages} stage=${w.stage} />${w.stage === 'in challenge window' && w.readyAtL1 ? html`<span class="dim clock">ready at ${parent} #${w.readyAtL1} (${Math.max(0, w.readyAtL1 - l1Head)} blocks)</span>` : ''}</td>
            </tr>`,
          )}
      </table>
    </section>`;
}

function ChannelsPanels({ layer }) {
  const graph = usePoll(() => rpc(layer.name, 'channel_graph'), [layer.name], 2000);
  const nodes = usePoll(
    () => Promise.all((layer.members ?? []).map(async (m) => ({ name: m.name, channels: await rpc(`${layer.name}/${m.name}`, 'channel_list').catch((e) => ({ error: e.message })) }))),
    [layer.name],
    2000,
  );
  const alias = (k) => graph.data?.nodes.find((n) => n.nodeKey === k)?.alias || short(k, 6);
  return html`
    <section data-testid="channel-graph">
      <h2>Channel graph <small>announced channels and their capacities</small></h2>
      ${graph.error ? html`<p class="error">${graph.error}</p>` : ''}
      <table>
        <tr><th>channel</th><th>between</th><th>capacity</th><th>fees (base / ppm)</th></tr>
        ${(graph.data?.channels ?? []).map(
          (c) => html`<tr data-testid="channel-row"><td class="mono">${short(c.channelId, 8)}</td><td>${alias(c.nodeA)} ↔ ${alias(c.nodeB)}</td><td>${coins(c.capacity)}</td>
            <td class="dim">${c.policies.map((p) => (p ? `${p.feeBase} / ${p.feePpm}` : '—')).join(' · ')}</td></tr>`,
        )}
      </table>
    </section>
    <section data-testid="channel-nodes">
      <h2>Nodes <small>each node's own view of its channels</small></h2>
      <table>
        <tr><th>node</th><th>peer</th><th>status</th><th>local</th><th>remote</th><th>state</th><th>HTLCs</th></tr>
        ${(nodes.data ?? []).flatMap((n) =>
          n.channels.error
            ? [html`<tr><td>${n.name}</td><td colspan="6" class="error">${n.channels.error}</td></tr>`]
            : n.channels.map((c) => html`<tr><td>${n.name}</td><td>${c.peerAlias ?? short(c.peer, 6)}</td><td>${c.status}</td><td>${coins(c.local)}</td><td>${coins(c.remote)}</td><td>${c.version}</td><td>${c.htlcs}</td></tr>`),
        )}
      </table>
    </section>`;
}

function SidechainPanels({ layer }) {
  const s = useStore();
  const info = usePoll(() => rpc(layer.name, 'sidechain_info'), [layer.name], 5000);
  const cs = usePoll(() => rpc(layer.name, 'sidechain_consensusState'), [layer.name], 1500);
  const checkpoints = s.events.filter((e) => e.layer === layer.name && e.kind === 'checkpoint').slice(-20).reverse();
  const total = (info.data?.validators ?? []).reduce((a, v) => a + BigInt(v.stake), 0n);
  return html`
    <section data-testid="validators">
      <h2>Validators <small>${info.data ? `${info.data.name}, chain id ${info.data.chainId}, checkpoint every ${info.data.checkpointInterval} blocks` : ''}</small></h2>
      ${info.error ? html`<p class="error">${info.error}</p>` : ''}
      ${cs.data ? html`<p>consensus: height ${cs.data.height} · round ${cs.data.round} · step ${cs.data.step}</p>` : ''}
      <table>
        <tr><th>#</th><th>stake</th><th>share</th><th>producer</th></tr>
        ${(info.data?.validators ?? []).map(
          (v) => html`<tr data-testid="validator-row"><td>${v.index}</td><td>${coins(v.stake)}</td><td>${total ? `${((Number(BigInt(v.stake) * 10000n / total)) / 100).toFixed(2)} %` : ''}</td><td class="mono">${addrOn(layer.name, v.producer)}</td></tr>`,
        )}
      </table>
    </section>
    <section data-testid="checkpoints">
      <h2>Checkpoints <small>accepted on ${layer.parent}</small></h2>
      <table>
        <tr><th>#</th><th>sidechain block</th><th>hash</th><th>${layer.parent} block</th></tr>
        ${checkpoints.map((e) => html`<tr data-testid="checkpoint-row"><td>${e.data.index}</td><td>#${e.data.height}</td><td class="mono">${short(e.data.blockHash, 8)}</td><td><a href=${`#/layer/${e.chain}/block/${e.block}`}>#${e.block}</a></td></tr>`)}
      </table>
    </section>`;
}

/** Proof status of a ZK batch in three words a user reads: pending (queued), proving (a prover has it), proven (proof made, on its way or verified on the parent). */
function proofStage(status) {
  return status === 'pending' ? 'pending' : status === 'proving' ? 'proving' : 'proven';
}

function ZkPanels({ layer }) {
  const info = usePoll(() => rpc(layer.name, 'zk_info'), [layer.name]);
  const status = usePoll(() => rpc(layer.name, 'zk_status'), [layer.name], 1500);
  const batches = usePoll(() => rpc(layer.name, 'zk_getBatches'), [layer.name], 1500);
  const rollupId = info.data?.rollupId;
  const onParent = usePoll(() => (rollupId === undefined ? Promise.resolve(undefined) : rpc(layer.parent, 'zkl1_rollup', [rollupId])), [layer.name, rollupId], 2000);
  const [q, setQ] = useState('');
  const [acct, setAcct] = useState(null);
  const lookup = (e) => {
    e.preventDefault();
    const i = Number(q);
    if (!Number.isInteger(i) || i < 0) return setAcct({ error: 'an account index (leaf number) is a whole number' });
    rpc(layer.name, 'zk_getAccount', [i, 'soft']).then(
      (a) => setAcct({ data: a }),
      (err) => setAcct({ error: err.message }),
    );
  };
  const st = status.data;
  const frozen = onParent.data?.frozen ?? st?.frozen;
  return html`
    <section data-testid="zk-state">
      <h2>ZK-rollup ${rollupId ?? ''} <small>${info.data ? `depth ${info.data.depth}, ${info.data.batchSize} ops per proof, circuit ${short(info.data.circuitHash, 6)}` : ''}</small></h2>
      ${status.error ? html`<p class="error">${status.error}</p>` : ''}
      ${
        st
          ? html`<p>soft root <span class="mono">${short(st.softRoot, 8)}</span> · proven root <span class="mono">${short(st.provenRoot, 8)}</span> · ${st.batches} batches, ${st.verified} verified on ${layer.parent} · jobs pending ${st.jobs.pending}, proving ${st.jobs.proving}</p>`
          : ''
      }
      <p data-testid="zk-exodus" data-frozen=${String(!!frozen)}>exodus: ${
        frozen
          ? html`<span class="pill bad">FROZEN</span> the operator missed a deadline: users exit on ${layer.parent} with a Merkle proof of their leaf (strata zk exit)`
          : html`<span class="pill good">live</span> the operator proves in time${onParent.data ? html` · on ${layer.parent}: ${onParent.data.batchCount} batches, deposit queue ${onParent.data.queueHead}–${onParent.data.queueTail}, escrow ${coins(onParent.data.escrow)}` : ''}`
      }</p>
    </section>
    <section data-testid="zk-batches">
      <h2>Batches <small>validity proofs: pending → proving → proven (then verified on ${layer.parent})</small></h2>
      ${batches.error ? html`<p class="error">${batches.error}</p>` : ''}
      <table>
        <tr><th>batch</th><th>ops</th><th>bytes</th><th>proof</th><th>status</th><th>prover</th><th>new root</th><th>${layer.parent} block</th></tr>
        ${(batches.data ?? [])
          .slice()
          .reverse()
          .map(
            (b) => html`<tr data-testid="zk-batch-row" data-index=${b.index} data-proof=${proofStage(b.status)} data-status=${b.status}>
              <td>${b.index}</td><td>${b.operations}</td><td>${b.bytes}</td>
              <td><span class=${`pill ${b.status === 'pending' ? 'warning' : b.status === 'proving' ? 'warning' : 'good'}`}>${proofStage(b.status)}</span></td>
              <td>${b.status}</td><td class="dim">${b.provedBy ?? ''}</td><td class="mono">${short(b.newRoot, 6)}</td>
              <td>${b.l1Height != null ? html`<a href=${`#/layer/${layer.parent}/block/${b.l1Height}`}>#${b.l1Height}</a>` : ''}</td>
            </tr>`,
          )}
      </table>
    </section>
    <section data-testid="zk-account">
      <h2>Account lookup <small>leaf by index, soft state</small></h2>
      <form onSubmit=${lookup}><input data-testid="zk-account-input" placeholder="leaf index" value=${q} onInput=${(e) => setQ(e.target.value)} /> <button>look up</button></form>
      ${acct?.error ? html`<p class="error">${acct.error}</p>` : ''}
      ${
        acct?.data
          ? html`<p data-testid="zk-account-result">leaf ${acct.data.index}: ${
              acct.data.exists ? html`balance <b>${num(acct.data.balance)}</b> units · nonce ${num(acct.data.nonce)} · L1 ${addrOn(layer.parent, acct.data.l1Address)} · leaf <span class="mono">${short(acct.data.leaf, 6)}</span> · proof ${acct.data.siblings.length} siblings` : 'empty'
            }</p>`
          : ''
      }
    </section>`;
}

function LayerPage({ name }) {
  const s = useStore();
  const layer = s.layers.find((l) => l.name === name);
  if (!layer) return html`<section><p class="error">No layer ${name}.</p></section>`;
  const st = s.status[name] ?? {};
  return html`
    <section>
      <h2>${layer.name} <small>${layer.kind}${layer.parent ? ` settling to ${layer.parent}` : ''} · RPC ${layer.rpc} · WS ${layer.ws}</small></h2>
      <p>${st.up ? html`<span class="pill good">up</span> head #${st.head}` : html`<span class="pill bad">down</span> <span class="error">${st.error}</span>`}</p>
    </section>
    <div class="grid">
      ${layer.kind !== 'channels' && layer.kind !== 'zk' ? html`<section><h2>Latest blocks <small>live</small></h2><${BlockList} layer=${name} /></section>` : ''}
      <section><h2>Events</h2><${EventList} layer=${name} /></section>
    </div>
    ${layer.kind === 'optimistic' || layer.kind === 'l3' ? html`<${RollupPanels} layer=${layer} />` : ''}
    ${layer.kind === 'zk' ? html`<${ZkPanels} layer=${layer} />` : ''}
    ${layer.kind === 'channels' ? html`<${ChannelsPanels} layer=${layer} />` : ''}
    ${layer.kind === 'sidechain' ? html`<${SidechainPanels} layer=${layer} />` : ''}
    <${Risk} layer=${name} />`;
}

function BlockPage({ layer, id }) {
  const { data, error } = usePoll(
    () => (/^0x/.test(id) ? rpc(layer, 'chain_getBlockByHash', [id, false]) : rpc(layer, 'chain_getBlockByNumber', [`0x${Number(id).toString(16)}`, true])),
    [layer, id],
  );
  if (error) return html`<section><p class="error">${error}</p></section>`;
  if (data === undefined) return html`<p class="loading">Loading…</p>`;
  if (data === null) return html`<section><p>No block ${id} on ${layer}.</p></section>`;
  const n = num(data.number);
  return html`<section data-testid="block">
    <h2>${layer} block #${n} <small><a href=${`#/layer/${layer}/block/${n - 1}`}>← parent</a> · <a href=${`#/layer/${layer}/block/${n + 1}`}>next →</a></small></h2>
    <table>
      ${Object.entries(data)
        .filter(([k]) => k !== 'transactions')
        .map(([k, v]) => html`<tr><th>${k}</th><td class="mono">${k === 'timestamp' ? `${new Date(num(v)).toISOString()} (${v})` : typeof v === 'object' ? JSON.stringify(v) : String(v)}</td></tr>`)}
    </table>
    <h2>Transactions <small>${data.transactions.length}</small></h2>
    <table>
      <tr><th>#</th><th>hash</th><th>call</th><th>status</th></tr>
      ${data.transactions.map((t, i) => {
        const hash = typeof t === 'string' ? t : t.hash;
        return html`<tr data-testid="tx-row">
          <td>${i}</td><td class="mono">${hash ? html`<a href=${`#/layer/${layer}/tx/${hash}`}>${short(hash, 10)}</a>` : html`<span class="dim">${t.kind} (no hash)</span>`}</td>
          <td>${typeof t === 'object' ? (t.module ? `${t.module}.${t.method}` : t.kind) : ''}${t.to ? html` → <span class="mono">${short(t.to, 6)}</span> ${coins(num(t.amount))}` : ''}</td>
          <td>${t.status ?? ''}</td>
        </tr>`;
      })}
    </table>
  </section>`;
}

function TxPage({ layer, hash }) {
  const { data, error } = usePoll(async () => ({ tx: await rpc(layer, 'tx_get', [hash]), receipt: await rpc(layer, 'tx_getReceipt', [hash]) }), [layer, hash], 2000);
  if (error) return html`<section><p class="error">${error}</p></section>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  if (!data.tx) return html`<section><p>No transaction ${hash} on ${layer}.</p></section>`;
  const { tx, receipt } = data;
  return html`<section data-testid="tx">
    <h2>${layer} transaction <small class="mono">${hash}</small></h2>
    <table>
      <tr><th>status</th><td data-testid="tx-status">${receipt ? (receipt.status === '0x1' ? html`<span class="pill good">ok</span>` : html`<span class="pill bad">failed</span> ${receipt.error?.message ?? receipt.error}`) : html`<span class="pill warning">pending</span>`}${receipt?.safety ? html` <span class="pill">${receipt.safety}</span>` : ''}</td></tr>
      <tr><th>block</th><td>${receipt ? html`<a href=${`#/layer/${layer}/block/${num(receipt.blockNumber)}`}>#${num(receipt.blockNumber)}</a>` : '—'}</td></tr>
      <tr><th>from</th><td class="mono"><a href=${`#/address/${tx.from}`}>${tx.from}</a></td></tr>
      ${tx.to ? html`<tr><th>to</th><td class="mono"><a href=${`#/address/${tx.to}`}>${tx.to}</a></td></tr>` : ''}
      ${tx.amount ? html`<tr><th>amount</th><td>${coins(num(tx.amount))}</td></tr>` : ''}
      <tr><th>call</th><td>${tx.module}.${tx.method}</td></tr>
      <tr><th>nonce · fee</th><td>${num(tx.nonce)} · ${num(tx.fee)}</td></tr>
      <tr><th>size</th><td>${num(tx.size)} B</td></tr>
    </table>
    ${receipt?.events?.length ? html`<h2>Events</h2><table>${receipt.events.map((e) => html`<tr><td>${e.module}.${e.type}</td><td class="mono">${JSON.stringify(e.data)}</td></tr>`)}</table>` : ''}
  </section>`;
}

function AccountPage({ q }) {
  const { data, error } = usePoll(() => getJson(`/api/account?q=${encodeURIComponent(q)}`), [q], 2000);
  if (error) return html`<section><p class="error">${error}</p></section>`;
  if (!data) return html`<p class="loading">Loading…</p>`;
  return html`<section data-testid="account">
    <h2>Account <small class="mono">${data.hex}</small></h2>
    <table>
      <tr><th>layer</th><th>address</th><th>balance</th><th>nonce</th></tr>
      ${data.layers.map(
        (l) => html`<tr data-testid="balance-row" data-layer=${l.layer} data-balance=${l.balance ?? ''}>
          <td>${l.layer}</td><td class="mono">${l.address}</td><td>${l.error ? html`<span class="error">${l.error}</span>` : coins(l.balance)}</td><td>${l.nonce ?? ''}</td>
        </tr>`,
      )}
    </table>
  </section>`;
}

function SearchPage({ q }) {
  const { data, error } = usePoll(() => getJson(`/api/search?q=${encodeURIComponent(q)}`), [q]);
  useEffect(() => {
    if (data && data.length === 1) location.replace(data[0].link);
  }, [data]);
  if (error) return html`<section><p class="error">${error}</p></section>`;
  if (!data) return html`<p class="loading">Searching every layer…</p>`;
  return html`<section data-testid="search-results">
    <h2>Search <small class="mono">${q}</small></h2>
    ${data.length === 0 ? html`<p>Nothing on any layer matches. Try a block or transaction hash (0x + 64 hex digits), a height, or an address.</p>` : ''}
    <table>${data.map((r) => html`<tr data-testid="hit"><td>${r.layer}</td><td>${r.type}</td><td><a href=${r.link}>${r.summary}</a></td></tr>`)}</table>
  </section>`;
}

function App() {
  const route = useRoute();
  const s = useStore();
  let page;
  if (s.layers.length === 0) page = html`<p class="loading">Loading layers…</p>`;
  else if (route[0] === 'layer' && route[2] === 'block') page = html`<${BlockPage} layer=${route[1]} id=${route[3]} />`;
  else if (route[0] === 'layer' && route[2] === 'tx') page = html`<${TxPage} layer=${route[1]} hash=${route[3]} />`;
  else if (route[0] === 'layer') page = html`<${LayerPage} name=${route[1]} />`;
  else if (route[0] === 'address') page = html`<${AccountPage} q=${route[1]} />`;
  else if (route[0] === 'search') page = html`<${SearchPage} q=${route[1]} />`;
  else page = html`<${Overview} />`;
  return html`<${Header} /><${DownBanners} /><main>${page}</main>`;
}

boot().catch((e) => {
  // Text, never markup: the message may carry text from a chain or the network.
  const p = document.createElement('p');
  p.className = 'error';
  p.style.padding = '20px';
  p.textContent = `The explorer could not load its layers: ${e.message}`;
  document.getElementById('app').replaceChildren(p);
});
const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
