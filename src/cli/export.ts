import { z } from 'zod';
import { exportGguf } from '../nn/export-gguf.js';
import { exportHf } from '../nn/export-hf.js';
import { CliError, parseCommand, type Command, type OptionSpec } from './args.js';

const options = {
  checkpoint: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
  name: { type: 'string' },
} satisfies OptionSpec;

const schema = z.object({
  checkpoint: z.string({ message: 'required: a checkpoint (or run) directory of a language model' }).min(1),
  format: z.enum(['gguf', 'hf'], { message: 'expected gguf (llama.cpp) or hf (Hugging Face LlamaForCausalLM)' }),
  out: z.string({ message: 'required: the .gguf file (gguf) or directory (hf) to write' }).min(1),
  name: z.string().min(1).optional(),
});

export const exportCommand: Command = {
  name: 'export',
  summary: 'write the built-in model as GGUF (llama.cpp, Ollama) or a Hugging Face LlamaForCausalLM directory (vLLM, TRL)',
  usage: 'export --checkpoint DIR --format gguf|hf --out FILE.gguf|DIR [--name NAME (gguf general.name)]',
  async run(argv: string[]): Promise<void> {
    const a = parseCommand('export', argv, options, schema);
    if (a.format === 'hf' && a.name !== undefined) throw new CliError('export: --name applies to --format gguf only');
    let result: { tensors: number; parameters: number };
    try {
      result = a.format === 'gguf' ? exportGguf(a.checkpoint, a.out, a.name ? { name: a.name } : {}) : exportHf(a.checkpoint, a.out);
    } catch (e) {
      throw new CliError(`export: ${(e as Error).message.split('\n')[0]}`);
    }
    console.log(JSON.stringify({ format: a.format, out: a.out, tensors: result.tensors, parameters: result.parameters }));
  },
};
