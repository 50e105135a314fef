import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { parseGatewayConfig } from '../../src/mcp/config.ts';
import { cli } from './cli-io.ts';

async function issues(text: string): Promise<string[]> {
  try {
    await parseGatewayConfig(text, '/base');
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((i) => `${i.path}@${i.line ?? '?'}: ${i.code}`);
    throw error;
  }
  return [];
}

describe('gateway config', () => {
  it('reads a full config with defaults and resolved paths', async () => {
    const config = await parseGatewayConfig(
      [
        'version: 1',
        'servers:',
        '  fs:',
        '    command: node',
        '    args: [server.js]',
        '    tools: { "read_*": { output: B } }',
        '  web: { url: "http://127.0.0.1:9000/mcp", trusted: true, timeout: 5s }',
      ].join('\n'),
      '/base',
    );
    expect(config.upstreams.map((u) => [u.name, u.transport.kind, u.trusted, u.timeoutMs])).toEqual([
      ['fs', 'stdio', false, 60_000],
      ['web', 'http', true, 5000],
    ]);
    expect(config.upstreams[0]?.tools).toEqual({ 'read_*': { output: 'B' } });
    // Reads send a URI or arguments to the server: C unless it is trusted.
    expect(config.upstreams.map((u) => [u.resources, u.prompts])).toEqual([
      [
        { call: 'C', output: 'A' },
        { call: 'C', output: 'A' },
      ],
      [{ output: 'A' }, { output: 'A' }],
    ]);
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8787, path: '/mcp', allowedOrigins: [] });
    expect(config.pinsFile).toBe('/base/ruleoftwo-pins.json');
    expect(config.pinning).toBe('approve');
    expect(config.store).toEqual({ kind: 'sqlite', path: '/base/ruleoftwo.db', synchronous: 'full' });
  });

  it('reports an upstream timeout longer than a timer can hold (596h)', async () => {
    // A longer timeout was cut to 1 ms by Node's timers: every call to the upstream timed out at once.
    const text = 'version: 1\nservers:\n  web: { url: "http://127.0.0.1:9000/mcp", timeout: 600h }\n';
    expect(await issues(text)).toEqual(['servers.web.timeout@3: invalid_duration']);
  });

  it('reports every issue with its path and line', async () => {
    const text = [
      'version: 2',
      'policy:',
      '  version: 1',
      '  tools: { x: { legs: Q } }',
      'servers:',
      '  a: { command: node, url: "http://x" }',
      '  b: { args: [1] }',
      '  c:',
      '    url: http://127.0.0.1/mcp',
      '    tools: { send: { call: BX } }',
      '    colour: blue',
      'http: { port: 99999 }',
      'pinning: sometimes',
    ].join('\n');
    expect(await issues(text)).toEqual([
      'version@1: invalid_version',
      'policy.tools.x.legs@4: invalid_legs',
      'servers.a@6: ambiguous_transport',
      'servers.b@7: missing_transport',
      'servers.c.colour@11: unknown_key',
      'servers.c.tools.send.call@10: invalid_legs',
      'pinning@13: invalid_value',
      'http.port@12: invalid_port',
    ]);
  });

  it('reads a policy file relative to the config and reports a missing one', async () => {
    expect(await issues('version: 1\npolicy: ./nope.yaml\nservers: { a: { command: x } }')).toEqual([
      'policy@2: unreadable_policy',
    ]);
  });
});

describe('ruleoftwo gateway (CLI)', () => {
  it('names usage errors without a stack trace', async () => {
    const missing = await cli(['gateway'], '/');
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('ruleoftwo gateway: `--config <file>` is required');
    const unknown = await cli(['gateway', '--config', 'x.yaml', '--verbose'], '/');
    expect(unknown.stderr).toContain('unknown option `--verbose`');
    const notFound = await cli(['gateway', '--config', '/nonexistent/gateway.yaml'], '/');
    expect(notFound.status).toBe(2);
    expect(notFound.stderr).toBe(
      'ruleoftwo gateway: cannot read gateway config `/nonexistent/gateway.yaml`: no such file or directory\n',
    );
  });

  it('quotes a bad url without its userinfo or query, and refuses credentials in a url', async () => {
    const messages = async (url: string) => {
      const text = `version: 1\nservers:\n  web: { url: "${url}" }\n`;
      const error = await parseGatewayConfig(text, '/base').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).issues.map((i) => `${i.code}: ${i.message}`).join('\n');
    };
    const invalid = await messages('https://user:t0ken@ho st/mcp?key=k3y');
    expect(invalid).toBe('invalid_url: invalid url `https://***@ho st/mcp?***`');
    const credentials = await messages('https://user:t0ken@host.test/mcp?key=k3y');
    expect(credentials).toBe(
      'invalid_url: url `https://***@host.test/mcp?***` holds credentials, which are never sent; put them in `headers`',
    );
  });
});
