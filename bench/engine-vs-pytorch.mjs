// `npm run bench`: our engine and its peers measured side by side in one run on this machine,
// printed as ratios: fast vs reference kernels, searchlearn vs PyTorch (when Debian's
// python3-torch is installed), MFU against numpy/OpenBLAS's GEMM limit.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ours = JSON.parse(execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'bench', 'engine', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop());
let peer = null;
const python = '/usr/bin/python3';
if (existsSync(python)) {
  try {
    // Some machines set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE for old OpenBLAS builds; they slow a
    // current one, so the peer runs without them (numpy's GEMM is the machine's practical limit).
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    peer = JSON.parse(execFileSync(python, [join(root, 'bench/pytorch_baseline.py'), '1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env }).trim().split('\n').pop());
  } catch (e) {
    console.error(`PyTorch baseline skipped: ${String(e.stderr ?? e.message).trim().split('\n').pop()} (install python3-torch python3-numpy libopenblas0-pthread)`);
  }
}
const r = (a, b) => (b ? (a / b).toFixed(2) + '×' : 'n/a');
console.log(`engine: ${JSON.stringify(ours)}`);
if (peer) console.log(`pytorch: ${JSON.stringify(peer)}`);
console.log('\nratios (same machine, same run):');
console.log(`  train tokens/s, fast / reference kernels:      ${r(ours.train.tokens_per_s, ours.reference.train_tokens_per_s)}`);
console.log(`  batch-64 sampling, fast / reference kernels:   ${r(ours.sample.batch64_tokens_per_s, ours.reference.batch64_tokens_per_s)}`);
console.log(`  MFU vs our kernel library's GEMM peak:         ${(ours.train.mfu * 100).toFixed(1)}%`);
if (peer) {
  console.log(`  MFU vs numpy/OpenBLAS 1024³ (${peer.numpy_gemm_gflops} GFLOP/s): ${((ours.train.model_gflops / peer.numpy_gemm_gflops) * 100).toFixed(1)}% (PyTorch: ${(peer.train_mfu_vs_numpy * 100).toFixed(1)}%)`);
  console.log(`  train tokens/s, searchlearn / PyTorch:         ${r(ours.train.tokens_per_s, peer.train_tokens_per_s)}`);
  console.log(`  batch-1 sampling, searchlearn / PyTorch:       ${r(ours.sample.batch1_tokens_per_s, peer.sample_batch1_tokens_per_s)}`);
  console.log(`  batch-64 sampling, searchlearn / PyTorch:      ${r(ours.sample.batch64_tokens_per_s, peer.sample_batch64_tokens_per_s)}`);
}
