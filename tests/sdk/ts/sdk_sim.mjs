// The official TypeScript SDK against `aimeter sim` (base URL in AIMETER_SIM_URL):
// a plain and a streamed call with the key as x-api-key (apiKey), the same
// with the key as a bearer token (authToken), and the billed dimensions a
// request asks for. Prints one line per check; exits non-zero on the first
// failure.
import Anthropic from '@anthropic-ai/sdk';

const baseURL = process.env.AIMETER_SIM_URL;
const fail = (msg) => {
  console.error(`FAIL: ${msg}`);
  process.exit(1);
};
const check = (ok, msg) => {
  if (!ok) fail(msg);
  console.log(`ok: ${msg}`);
};

for (const [how, auth] of [
  ['x-api-key', { apiKey: 'sk-sim-test' }],
  ['bearer', { apiKey: null, authToken: 'sk-sim-test' }],
]) {
  const client = new Anthropic({ baseURL, maxRetries: 0, ...auth });
  const m = await client.messages.create({
    model: 'claude-opus-5-5',
    max_tokens: 20,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  check(m.type === 'message' && m.model === 'claude-opus-5-5', `${how}: plain message`);
  check(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, `${how}: plain usage`);
  check(m.content[0].type === 'text' && m.content[0].text.length > 0, `${how}: plain text`);

  let text = '';
  const s = client.messages.stream({
    model: 'claude-sonnet-5-5',
    max_tokens: 20,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  s.on('text', (t) => {
    text += t;
  });
  const fin = await s.finalMessage();
  check(fin.model === 'claude-sonnet-5-5' && fin.stop_reason, `${how}: streamed message`);
  check(text.length > 0 && text === fin.content[0].text, `${how}: streamed text`);
  check(fin.usage.output_tokens > 0, `${how}: streamed usage`);
}

// What is billed beyond tokens: fast mode, US inference, web search.
const client = new Anthropic({ baseURL, apiKey: 'sk-sim-test', maxRetries: 0 });
const m = await client.messages.create({
  model: 'claude-opus-5-5',
  max_tokens: 20,
  speed: 'fast',
  inference_geo: 'us',
  tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }],
  messages: [{ role: 'user', content: 'Hello' }],
});
check(m.usage.speed === 'fast' && m.usage.inference_geo === 'us', 'served dimensions');
check(m.usage.server_tool_use?.web_search_requests === 2, 'web searches counted');

// A wrong key is a 401 the SDK reports as such.
const wrong = new Anthropic({ baseURL: process.env.AIMETER_SIM_KEYED_URL, apiKey: 'sk-other', maxRetries: 0 });
try {
  await wrong.messages.create({ model: 'claude-opus-5-5', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  fail('a wrong key was accepted');
} catch (e) {
  check(e instanceof Anthropic.AuthenticationError, 'wrong key: AuthenticationError');
}
