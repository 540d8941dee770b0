/**
 * CPU time of this process (all its threads) in ms. The server reports it beside wall time
 * because a busy machine inflates wall time (the process waits for a core) but not CPU time, so
 * CPU shares stay comparable between a quiet run and a loaded one.
 */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
