/**
 * The module interface. A chain's runtime is a list of modules; each owns a slice of state
 * (its keys are built with `stateKey(moduleName, …)`) and a set of methods that transactions
 * call. Layers add their settlement modules (bridge, inbox, disputes…) to their parent's runtime.
 */
import type { StateView } from '@strata/state';
import { StrataError } from '@strata/primitives';
import type { ChainConfig } from './config.js';

/** An event emitted by a transaction or block hook, stored in the receipt. */
export interface RuntimeEvent {
  module: string;
  type: string;
  /** JSON-safe fields (bigints as decimal strings, bytes as 0x hex). */
  data: Record<string, string | number | boolean>;
}

/** What the block being executed looks like to modules. */
export interface BlockInfo {
  height: number;
  timestamp: number;
  producer: Uint8Array;
}

/** Context handed to a method. */
export interface TxContext {
  /** Metered state (every get/put is charged). */
  view: StateView;
  config: ChainConfig;
  block: BlockInfo;
  sender: Uint8Array;
  txHash: Uint8Array;
  /** Position of the transaction in its block. */
  txIndex: number;
  /** Charges compute units; throws TX_COMPUTE_EXCEEDED past the limit. */
  charge(units: number): void;
  /**
   * Compute units the transaction has left before its limit (a method bounds costly work by it,
   * e.g. the rollup inbox's decompression). Optional: contexts that do not meter may omit it.
   */
  readonly computeLeft?: number;
  emit(type: string, data: RuntimeEvent['data']): void;
  /** Other modules, for cross-module calls (e.g. a bridge moving coins through the bank). */
  registry: ModuleRegistry;
}

/** Context handed to block hooks and genesis. */
export interface BlockContext {
  view: StateView;
  config: ChainConfig;
  block: BlockInfo;
  emit(module: string, type: string, data: RuntimeEvent['data']): void;
  registry: ModuleRegistry;
}

/** A method callable by transactions. */
export type MethodHandler = (ctx: TxContext, args: Uint8Array) => void;

/** A runtime module. */
export interface Module {
  readonly name: string;
  readonly methods: Readonly<Record<string, MethodHandler>>;
  /**
   * Set on a settlement module: the child chain it settles and the instance it belongs to (e.g.
   * `optimistic/901`; the bridge, inbox and disputes modules of one rollup share it). A registry
   * refuses two instances for one child chain id, and a chain refuses a child with its own id.
   */
  readonly settles?: {
    readonly chainId: number;
    readonly instance: string;
    /**
     * Ids of the child's own descendants (the chains its runtime settles, theirs, …), reserved
     * on this chain too: a sibling under a grandchild's id would accept the grandchild's signed
     * transactions. See `descendantChainIds`.
     */
    readonly descendants?: readonly number[];
  };
  /**
   * Set on a module that counts time in its host's L1 origin instead of block heights (e.g. the
   * channel adjudicator on an L2, whose sequencer makes blocks at will): an L2 hosting it then
   * carries its L1 origin in its blocks, as one hosting a child's settlement modules does.
   */
  readonly l1Clock?: boolean;
  /** Writes genesis state. */
  genesis?(ctx: BlockContext): void;
  /** Runs before the block's transactions. */
  beginBlock?(ctx: BlockContext): void;
  /** Runs after the block's transactions. */
  endBlock?(ctx: BlockContext): void;
}

/** The modules of one chain, by name. */
export class ModuleRegistry {
  private readonly byName = new Map<string, Module>();
  private readonly children = new Map<number, string>();
  constructor(modules: Module[]) {
    for (const m of modules) {
      if (this.byName.has(m.name)) throw new StrataError('CONFIG_INVALID', `module ${m.name} is registered twice`);
      if (m.settles) {
        const { chainId, instance } = m.settles;
        const other = this.children.get(chainId);
        if (other !== undefined && other !== instance) {
          throw new StrataError('CONFIG_INVALID', `child chain id ${chainId} is settled twice on this chain (${other} and ${instance}); every child needs its own chain id`, { chainId });
        }
        this.children.set(chainId, instance);
        for (const d of m.settles.descendants ?? []) {
          const o = this.children.get(d);
          if (o !== undefined && o !== instance) throw new StrataError('CONFIG_INVALID', `chain id ${d} is used twice below this chain (${o} and a descendant of ${instance}); every chain needs its own id`, { chainId: d });
          this.children.set(d, instance);
        }
      }
      this.byName.set(m.name, m);
    }
  }
  /** Child chains settled by this runtime: chain id → instance. */
  childChains(): ReadonlyMap<number, string> {
    return this.children;
  }
  /** Throws CONFIG_INVALID when a child chain uses the parent's own chain id. */
  checkChildrenOf(parentChainId: number): this {
    const own = this.children.get(parentChainId);
    if (own !== undefined) throw new StrataError('CONFIG_INVALID', `${own} settles chain id ${parentChainId} (itself or below it), the id of its parent chain; a child needs its own chain id`, { chainId: parentChainId });
    return this;
  }
  get(name: string): Module | undefined {
    return this.byName.get(name);
  }
  /** Gets a module by name and narrows it to its concrete type. */
  require<T extends Module>(name: string): T {
    const m = this.byName.get(name);
    if (!m) throw new StrataError('TX_UNKNOWN_MODULE', `module ${name} is not part of this runtime`, { module: name });
    return m as T;
  }
  all(): Module[] {
    return [...this.byName.values()];
  }
}
