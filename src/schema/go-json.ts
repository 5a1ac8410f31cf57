// JSON text as Go's encoding/json writes it (oras, regclient, skopeo, containerd are Go): compact,
// and with <, >, & and U+2028/U+2029 escaped as \u003c, \u003e, \u0026, \u2028, \u2029. Documents
// we author are content-addressed, so for the same fields (in the same key order: see
// canonicalDescriptor) this gives the same bytes, hence the same digest, as those tools.
const GO_ESCAPED = /[<>&\u2028\u2029]/g;

export function goJsonStringify(value: unknown): string {
  // Outside string literals JSON has only structure, digits and keywords, so every match is
  // inside a string, where the \u form means the same character.
  return JSON.stringify(value).replace(
    GO_ESCAPED,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
