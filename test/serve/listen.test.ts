import { describe, expect, it } from 'vitest';
import { assertSafeExposure, isLoopbackListen, parseListen } from '../../src/serve/listen.js';

describe('--listen', () => {
  it('parses HOST:PORT, [IPv6]:PORT and :PORT (loopback)', () => {
    expect(parseListen('127.0.0.1:5000')).toEqual({ host: '127.0.0.1', port: 5000 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('localhost:1')).toEqual({ host: 'localhost', port: 1 });
  });
  it.each(['5000', 'host', 'host:99999', '[::1]', 'a:b:c', ''])('refuses %j (E_USAGE)', (s) => {
    expect(() => parseListen(s)).toThrow(expect.objectContaining({ code: 'E_USAGE' }) as Error);
  });
  it('knows loopback', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost'])
      expect(isLoopbackListen(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com'])
      expect(isLoopbackListen(h)).toBe(false);
  });
  it('writes off loopback need --read-only or the explicit opt-in', () => {
    const off = { host: '0.0.0.0', port: 5000 };
    expect(() =>
      assertSafeExposure(off, { readOnly: false, allowUnauthenticatedWrites: false }),
    ).toThrow(expect.objectContaining({ code: 'E_USAGE' }) as Error);
    expect(() =>
      assertSafeExposure(off, { readOnly: true, allowUnauthenticatedWrites: false }),
    ).not.toThrow();
    expect(() =>
      assertSafeExposure(off, { readOnly: false, allowUnauthenticatedWrites: true }),
    ).not.toThrow();
  });
  it('writes that need a login are safe off loopback', () => {
    const off = { host: '0.0.0.0', port: 5000 };
    const base = { readOnly: false, allowUnauthenticatedWrites: false };
    expect(() => assertSafeExposure(off, { ...base, writesNeedLogin: true })).not.toThrow();
    expect(() => assertSafeExposure(off, { ...base, writesNeedLogin: false })).toThrow(
      /unauthenticated writes/,
    );
  });
});
