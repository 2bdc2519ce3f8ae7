/** Tree depth and batch size of the devnet's ZK circuit (see ARCHITECTURE.md for the setup time). */
export const DEVNET_ZK_DEPTH = 20;
/** Operations per proof in the devnet's ZK circuit. */
export const DEVNET_ZK_BATCH = 2;
