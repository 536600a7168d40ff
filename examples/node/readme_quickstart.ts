// The README's Node quickstart, verbatim.
import { SippClient, defaultModel } from '@sipp/sipp-server';

const client = new SippClient();
const endpoint = await client.add('default', {
  kind: 'local',
  modelPath: await defaultModel(),          // or any GGUF path
  config: { context: { n_ctx: 2048 } },     // runtime config groups keep llama.cpp's names
});
const run = client.chat({
  endpoint,
  messages: [{ role: 'user', content: 'Explain Sipp in one sentence.' }],
  emitTokens: true,
  options: { maxTokens: 64 },
});
for await (const batch of run) process.stdout.write(batch.text);   // or run.tokens
const response = await run.response;        // text, finishReason, usage, localStats
await client.close();
