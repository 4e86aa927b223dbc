// The no-op task of bench/peers.ts for piscina: the bare thread-pool cost.
export default function noop() {
  return { startedAt: Date.now() };
}
