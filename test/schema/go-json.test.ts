// go-json.ts: the bytes Go's encoding/json writes (json.Marshal escapes HTML characters and the
// JavaScript line separators), so documents we author hash like the Go tools' own.
import { describe, expect, it } from 'vitest';
import { goJsonStringify } from '../../src/schema/go-json.js';

describe('goJsonStringify', () => {
  it('escapes <, >, & and U+2028/U+2029 as json.Marshal does, in keys and values', () => {
    const text = goJsonStringify({ 'a<b': 'x > y && z\u2028\u2029', n: [1, true, null] });
    // json.Marshal(map[string]any{"a<b": "x > y && z\u2028\u2029", "n": []any{1, true, nil}})
    expect(text).toBe(
      '{"a\\u003cb":"x \\u003e y \\u0026\\u0026 z\\u2028\\u2029","n":[1,true,null]}',
    );
    expect(JSON.parse(text)).toEqual({ 'a<b': 'x > y && z\u2028\u2029', n: [1, true, null] });
  });

  it('is JSON.stringify for text without those characters', () => {
    const doc = { schemaVersion: 2, annotations: { 'org.example': 'é "quoted" \\ \n' } };
    expect(goJsonStringify(doc)).toBe(JSON.stringify(doc));
  });
});
