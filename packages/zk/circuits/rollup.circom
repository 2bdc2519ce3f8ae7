pragma circom 2.0.0;

// The Strata ZK-rollup batch circuit: N operations (noop 0, transfer 1, deposit 2, withdrawal 3)
// over a Poseidon account tree of depth D. Leaf = Poseidon(ax, ay, balance, nonce, l1Addr), an
// empty leaf is 0. The single public signal is Poseidon(oldRoot, newRoot, commitment), where the
// commitment chains Poseidon(c, packed, ax, ay, addr) over the ops' posted fields, exactly as the
// L1 module recomputes it from the posted bytes. Mirrored line by line by src/stf.ts.

include "poseidon.circom";
include "bitify.circom";
include "comparators.circom";
include "mux1.circom";
include "eddsaposeidon.circom";

// Root of a Merkle path: leaf at the position given by bits (LSB first = the leaf level).
template MerkleRoot(D) {
    signal input leaf;
    signal input bits[D];
    signal input siblings[D];
    signal output root;
    component h[D];
    signal cur[D + 1];
    signal l[D];
    signal r[D];
    cur[0] <== leaf;
    for (var i = 0; i < D; i++) {
        // bit 0: cur is the left child
        l[i] <== cur[i] + bits[i] * (siblings[i] - cur[i]);
        r[i] <== siblings[i] + bits[i] * (cur[i] - siblings[i]);
        h[i] = Poseidon(2);
        h[i].inputs[0] <== l[i];
        h[i].inputs[1] <== r[i];
        cur[i + 1] <== h[i].out;
    }
    root <== cur[D];
}

// Leaf hash, or 0 for an empty leaf (whose fields must then be 0).
template LeafHash() {
    signal input ax;
    signal input ay;
    signal input balance;
    signal input nonce;
    signal input addr;
    signal input empty;
    signal output out;
    empty * (1 - empty) === 0;
    empty * ax === 0;
    empty * ay === 0;
    empty * balance === 0;
    empty * nonce === 0;
    empty * addr === 0;
    component h = Poseidon(5);
    h.inputs[0] <== ax;
    h.inputs[1] <== ay;
    h.inputs[2] <== balance;
    h.inputs[3] <== nonce;
    h.inputs[4] <== addr;
    out <== h.out * (1 - empty);
}

template Op(D, AB, BB, TAG) {
    signal input rootIn;
    signal output rootOut;
    signal input cIn;
    signal output cOut;
    // posted fields
    signal input type;
    signal input from;
    signal input to;
    signal input amount;
    signal input ax;
    signal input ay;
    signal input addr;
    // signature (transfers, withdrawals)
    signal input s;
    signal input r8x;
    signal input r8y;
    // leaf A (at `from`) before the op, and its path
    signal input aAx;
    signal input aAy;
    signal input aBal;
    signal input aNonce;
    signal input aAddr;
    signal input aEmpty;
    signal input aSib[D];
    // leaf B (at `to` for transfers, `from` otherwise) after A's update, and its path
    signal input bAx;
    signal input bAy;
    signal input bBal;
    signal input bNonce;
    signal input bAddr;
    signal input bEmpty;
    signal input bSib[D];

    component isN = IsEqual(); isN.in[0] <== type; isN.in[1] <== 0;
    component isT = IsEqual(); isT.in[0] <== type; isT.in[1] <== 1;
    component isD = IsEqual(); isD.in[0] <== type; isD.in[1] <== 2;
    component isW = IsEqual(); isW.in[0] <== type; isW.in[1] <== 3;
    isN.out + isT.out + isD.out + isW.out === 1;
    signal signed <== isT.out + isW.out;

    component fromBits = Num2Bits(D); fromBits.in <== from;
    component toBits = Num2Bits(D); toBits.in <== to;
    component amountBits = Num2Bits(AB); amountBits.in <== amount;

    // commitment to the posted fields
    component ch = Poseidon(5);
    ch.inputs[0] <== cIn;
    ch.inputs[1] <== type + 4 * from + (4 * (1 << D)) * to + (4 * (1 << (2 * D))) * amount;
    ch.inputs[2] <== ax;
    ch.inputs[3] <== ay;
    ch.inputs[4] <== addr;
    cOut <== ch.out;

    // ---- update A
    component oldA = LeafHash();
    oldA.ax <== aAx; oldA.ay <== aAy; oldA.balance <== aBal; oldA.nonce <== aNonce; oldA.addr <== aAddr; oldA.empty <== aEmpty;
    component pathA = MerkleRoot(D);
    pathA.leaf <== oldA.out;
    for (var i = 0; i < D; i++) { pathA.bits[i] <== fromBits.out[i]; pathA.siblings[i] <== aSib[i]; }
    pathA.root === rootIn;

    // signed ops need an existing sender and a valid signature over the sender's current nonce
    signed * aEmpty === 0;
    component msg = Poseidon(6);
    msg.inputs[0] <== TAG;
    msg.inputs[1] <== type;
    msg.inputs[2] <== from;
    msg.inputs[3] <== to;
    msg.inputs[4] <== amount;
    msg.inputs[5] <== aNonce;
    component sig = EdDSAPoseidonVerifier();
    sig.enabled <== signed;
    sig.Ax <== aAx;
    sig.Ay <== aAy;
    sig.S <== s;
    sig.R8x <== r8x;
    sig.R8y <== r8y;
    sig.M <== msg.out;

    // a withdrawal pays the leaf's own L1 address
    isW.out * (addr - aAddr) === 0;
    // a deposit into an existing leaf must name its key
    signal dExisting <== isD.out * (1 - aEmpty);
    dExisting * (ax - aAx) === 0;
    dExisting * (ay - aAy) === 0;
    signal dNew <== isD.out * aEmpty;

    // new fields of A
    signal debit <== signed * amount;
    signal credit <== isD.out * amount;
    signal newABal <== aBal - debit + credit;
    component newABalBits = Num2Bits(BB); newABalBits.in <== newABal;
    signal newANonce <== aNonce + signed;
    signal newAAx <== aAx + dNew * (ax - aAx);
    signal newAAy <== aAy + dNew * (ay - aAy);
    signal newAAddr <== aAddr + dNew * (addr - aAddr);
    // a noop keeps the leaf (empty stays 0); any other op writes a non-empty leaf
    signal newAEmpty <== isN.out * aEmpty;
    component newA = LeafHash();
    newA.ax <== newAAx; newA.ay <== newAAy; newA.balance <== newABal; newA.nonce <== newANonce; newA.addr <== newAAddr; newA.empty <== newAEmpty;
    component pathA2 = MerkleRoot(D);
    pathA2.leaf <== newA.out;
    for (var i = 0; i < D; i++) { pathA2.bits[i] <== fromBits.out[i]; pathA2.siblings[i] <== aSib[i]; }
    signal mid <== pathA2.root;

    // ---- update B (only transfers change it)
    signal bIdx <== from + isT.out * (to - from);
    component bBits = Num2Bits(D); bBits.in <== bIdx;
    component oldB = LeafHash();
    oldB.ax <== bAx; oldB.ay <== bAy; oldB.balance <== bBal; oldB.nonce <== bNonce; oldB.addr <== bAddr; oldB.empty <== bEmpty;
    component pathB = MerkleRoot(D);
    pathB.leaf <== oldB.out;
    for (var i = 0; i < D; i++) { pathB.bits[i] <== bBits.out[i]; pathB.siblings[i] <== bSib[i]; }
    pathB.root === mid;
    isT.out * bEmpty === 0;
    signal newBBal <== bBal + isT.out * amount;
    component newBBalBits = Num2Bits(BB); newBBalBits.in <== newBBal;
    component newB = LeafHash();
    newB.ax <== bAx; newB.ay <== bAy; newB.balance <== newBBal; newB.nonce <== bNonce; newB.addr <== bAddr; newB.empty <== bEmpty;
    component pathB2 = MerkleRoot(D);
    pathB2.leaf <== newB.out;
    for (var i = 0; i < D; i++) { pathB2.bits[i] <== bBits.out[i]; pathB2.siblings[i] <== bSib[i]; }
    rootOut <== pathB2.root;
}

template Batch(D, N, AB, BB, TAG) {
    signal input oldRoot;
    signal input type[N];
    signal input from[N];
    signal input to[N];
    signal input amount[N];
    signal input ax[N];
    signal input ay[N];
    signal input addr[N];
    signal input s[N];
    signal input r8x[N];
    signal input r8y[N];
    signal input aAx[N];
    signal input aAy[N];
    signal input aBal[N];
    signal input aNonce[N];
    signal input aAddr[N];
    signal input aEmpty[N];
    signal input aSib[N][D];
    signal input bAx[N];
    signal input bAy[N];
    signal input bBal[N];
    signal input bNonce[N];
    signal input bAddr[N];
    signal input bEmpty[N];
    signal input bSib[N][D];
    signal output inputHash;

    component ops[N];
    for (var i = 0; i < N; i++) {
        ops[i] = Op(D, AB, BB, TAG);
        if (i == 0) {
            ops[i].rootIn <== oldRoot;
            ops[i].cIn <== 0;
        } else {
            ops[i].rootIn <== ops[i - 1].rootOut;
            ops[i].cIn <== ops[i - 1].cOut;
        }
        ops[i].type <== type[i];
        ops[i].from <== from[i];
        ops[i].to <== to[i];
        ops[i].amount <== amount[i];
        ops[i].ax <== ax[i];
        ops[i].ay <== ay[i];
        ops[i].addr <== addr[i];
        ops[i].s <== s[i];
        ops[i].r8x <== r8x[i];
        ops[i].r8y <== r8y[i];
        ops[i].aAx <== aAx[i];
        ops[i].aAy <== aAy[i];
        ops[i].aBal <== aBal[i];
        ops[i].aNonce <== aNonce[i];
        ops[i].aAddr <== aAddr[i];
        ops[i].aEmpty <== aEmpty[i];
        ops[i].bAx <== bAx[i];
        ops[i].bAy <== bAy[i];
        ops[i].bBal <== bBal[i];
        ops[i].bNonce <== bNonce[i];
        ops[i].bAddr <== bAddr[i];
        ops[i].bEmpty <== bEmpty[i];
        for (var j = 0; j < D; j++) {
            ops[i].aSib[j] <== aSib[i][j];
            ops[i].bSib[j] <== bSib[i][j];
        }
    }
    // The public input names the rollup (TAG = l1ChainId << 32 | rollupId): the L1 recomputes it
    // with the rollup's own ids, so a proof of this circuit verifies for this rollup only, even
    // if another rollup registered the same verification key.
    component out = Poseidon(4);
    out.inputs[0] <== oldRoot;
    out.inputs[1] <== ops[N - 1].rootOut;
    out.inputs[2] <== ops[N - 1].cOut;
    out.inputs[3] <== TAG;
    inputHash <== out.out;
}
