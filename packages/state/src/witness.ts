/**
 * Witness-backed execution: the same runtime code that a full node runs over its database runs
 * here over a handful of Merkle nodes, with no database. A layer-2 fraud proof (one step of a
 * dispute) and ZK witness generation both rest on this.
 */
import { bytesKey, StrataError, toHex } from '@strata/primitives';
import { type NewNode, nodeHash, SparseMerkleTree, type NodeReader } from './smt.js';
import { OverlayView, RecordingNodeReader, TreeReader } from './view.js';

/** Node encodings that together cover every key an execution touches under one root. */
export type Witness = Uint8Array[];

/** A NodeReader built from a witness; each node is indexed by its own hash, so none can be forged. */
export class WitnessNodeReader implements NodeReader {
  private readonly nodes = new Map<string, Uint8Array>();
  constructor(witness: Witness) {
    for (const enc of witness) {
      if (!(enc instanceof Uint8Array) || enc.length < 33) throw new StrataError('PROOF_INVALID', 'malformed witness node');
      this.nodes.set(bytesKey(nodeHash(enc)), enc);
    }
  }
  getNode(hash: Uint8Array): Uint8Array | undefined {
    return this.nodes.get(bytesKey(hash));
  }
}

/**
 * Runs `execute` over a StateView backed only by `witness` under `preRoot`, and returns the
 * post-state root. Throws WITNESS_INCOMPLETE when the execution needs a node the witness lacks.
 */
export function executeOnWitness(preRoot: Uint8Array, witness: Witness, execute: (view: OverlayView) => void): Uint8Array {
  const reader = new WitnessNodeReader(witness);
  // Remember a miss even if `execute` catches the error (applyTx turns a method's exception into
  // a failed receipt): an execution that could not read its state proves nothing.
  let missing: Uint8Array | undefined;
  const tracked: NodeReader = {
    getNode(hash) {
      const n = reader.getNode(hash);
      if (!n) missing ??= hash;
      return n;
    },
  };
  const view = new OverlayView(new TreeReader(tracked, preRoot, 'WITNESS_INCOMPLETE'));
  execute(view);
  if (missing) {
    throw new StrataError('WITNESS_INCOMPLETE', 'the witness does not cover every state the execution reads (a node is missing or was altered)', {
      node: toHex(missing),
    });
  }
  return new SparseMerkleTree(reader, 'WITNESS_INCOMPLETE').update(preRoot, view.changes()).root;
}

/**
 * Runs `execute` over full state (any NodeReader that holds the tree at `preRoot`), recording
 * every node read, and returns the post root with the witness that lets `executeOnWitness`
 * reproduce it.
 */
export function executeWithWitness(
  nodes: NodeReader,
  preRoot: Uint8Array,
  execute: (view: OverlayView) => void,
): { postRoot: Uint8Array; witness: Witness; newNodes: NewNode[] } {
  const rec = new RecordingNodeReader(nodes);
  const view = new OverlayView(new TreeReader(rec, preRoot));
  execute(view);
  const { root, newNodes } = new SparseMerkleTree(rec).update(preRoot, view.changes());
  return { postRoot: root, witness: rec.witness(), newNodes };
}
