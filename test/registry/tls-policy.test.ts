import { describe, expect, it } from 'vitest';
import { isLoopbackHost, isNotTlsError, schemePolicy } from '../../src/registry/tls-policy.js';

describe('TLS policy', () => {
  it('knows loopback hosts', () => {
    for (const h of [
      '127.0.0.1:5000',
      '127.8.9.1',
      'localhost:5000',
      '[::1]:5000',
      'a.localhost',
    ]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ['10.0.0.1:5000', 'ghcr.io', '128.0.0.1', 'localhost.example.com']) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it('uses HTTPS everywhere, HTTP only for explicit hosts, and probes loopback', () => {
    expect(schemePolicy('registry.example.com')).toBe('https');
    expect(schemePolicy('registry.example.com:5000', ['registry.example.com'])).toBe('http');
    expect(schemePolicy('registry.example.com:5000', ['registry.example.com:5001'])).toBe('https');
    expect(schemePolicy('10.1.2.3:5000', ['10.1.2.3:5000'])).toBe('http');
    expect(schemePolicy('127.0.0.1:5000')).toBe('https-then-http');
  });

  it('falls back only when the server does not speak TLS at all', () => {
    expect(isNotTlsError('ERR_SSL_WRONG_VERSION_NUMBER')).toBe(true);
    expect(isNotTlsError('DEPTH_ZERO_SELF_SIGNED_CERT')).toBe(false);
    expect(isNotTlsError('ECONNREFUSED')).toBe(false);
  });
});
