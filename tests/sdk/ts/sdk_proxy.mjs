// The official TypeScript SDK through `aimeter proxy` (AIMETER_PROXY_URL), whose
// budget allows one call: the first call is answered, the second gets the
// provider's spend-limit 400, which the SDK reports as a BadRequestError
// (with maxRetries left at the SDK's default: a 400 is not one it retries).
import Anthropic from '@anthropic-ai/sdk';

const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};
const check = (ok, msg) => {
  if (!ok) fail(msg);
  console.log(`ok: ${msg}`);
};

const client = new Anthropic({
  baseURL: process.env.AIMETER_PROXY_URL,
  apiKey: 'sk-sim-test',
  defaultHeaders: { 'x-aimeter-tag': 'sdk-ts', 'x-sim-output-tokens': '1000' },
});
const m = await client.messages.create({
  model: 'claude-haiku-4-5',
  max_tokens: 1000,
  messages: [{ role: 'user', content: 'Hello' }],
});
check(m.type === 'message' && m.usage.output_tokens > 0, 'proxy: the first call is answered');
try {
  await client.messages.create({
    model: 'claude-haiku-4-5',
    max_tokens: 1000,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  fail('the call past the budget was answered');
} catch (e) {
  check(e instanceof Anthropic.BadRequestError, 'proxy: over budget is a BadRequestError');
  check(e.error?.error?.type === 'invalid_request_error', 'proxy: invalid_request_error');
  check(/usage limits/.test(e.error?.error?.message ?? ''), 'proxy: the spend-limit message');
}
