/** An in-memory `InboxStore` for tests of the inbox rule (`appendBatch`, `forceInclusion`). */
import { EMPTY_INBOX, type BatchRecord, type DelayedRecord, type InboxMeta, type InboxStore } from '@strata/optimistic';

/** The inbox rule's storage in plain arrays. */
export class MemInbox implements InboxStore {
  m: InboxMeta = { ...EMPTY_INBOX };
  d: DelayedRecord[] = [];
  b: BatchRecord[] = [];
  meta = () => this.m;
  setMeta = (m: InboxMeta) => {
    this.m = m;
  };
  delayed = (i: number) => this.d[i];
  setDelayed = (i: number, r: DelayedRecord) => {
    this.d[i] = r;
  };
  batch = (i: number) => this.b[i];
  setBatch = (i: number, r: BatchRecord) => {
    this.b[i] = r;
  };
}
