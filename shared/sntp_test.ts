import assert from "node:assert/strict";
import {
  decodePacket,
  diffMs,
  encodePacket,
  formatReferenceId,
  makeRequest,
  measure,
  NTP_PACKET_SIZE,
  type NtpTimestamp,
  ntpToUnixMs,
  SntpError,
  type SntpPacket,
  unixMsToNtp,
  validateReply,
} from "./sntp.ts";

const SENT: NtpTimestamp = { seconds: 0xe9f0_0000, fraction: 0x1234_5678 };

/** A valid server reply to a request whose transmit timestamp was {@linkcode SENT}. */
function serverReply(overrides: Partial<SntpPacket> = {}): SntpPacket {
  return {
    leap: 0,
    version: 4,
    mode: 4,
    stratum: 2,
    poll: 6,
    precision: -20,
    rootDelay: 0.015625,
    rootDispersion: 0.0078125,
    referenceId: 0xc000_0201, // 192.0.2.1
    referenceTime: { seconds: SENT.seconds - 60, fraction: 0 },
    originTime: SENT,
    receiveTime: { seconds: SENT.seconds, fraction: 0x2000_0000 },
    transmitTime: { seconds: SENT.seconds, fraction: 0x2100_0000 },
    ...overrides,
  };
}

/** The error `validateReply` throws for `packet`, after an encode/decode round trip. */
function rejection(packet: SntpPacket): SntpError {
  const decoded = decodePacket(encodePacket(packet));
  try {
    validateReply(decoded, SENT);
  } catch (e) {
    assert.ok(e instanceof SntpError, `expected SntpError, got ${e}`);
    return e;
  }
  assert.fail("validateReply accepted the packet");
}

Deno.test("encodePacket() and decodePacket() round-trip every header field", () => {
  const packet = serverReply({ leap: 1, poll: -3, precision: -26 });
  const bytes = encodePacket(packet);
  assert.equal(bytes.length, NTP_PACKET_SIZE);
  assert.equal(bytes[0], (1 << 6) | (4 << 3) | 4);
  assert.deepEqual(decodePacket(bytes), packet);
});

Deno.test("makeRequest() builds a version 4 client packet carrying its transmit timestamp", () => {
  const { bytes, transmit } = makeRequest(Date.UTC(2024, 4, 15, 11, 26, 19));
  assert.equal(bytes.length, 48);
  assert.equal(bytes[0], 0x23); // LI 0, VN 4, mode 3
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(40), transmit.seconds);
  assert.equal(view.getUint32(44), transmit.fraction);
  assert.equal(transmit.seconds, Date.UTC(2024, 4, 15, 11, 26, 19) / 1000 + 2_208_988_800);
  assert.ok(bytes.subarray(1, 40).every((b) => b === 0));
});

Deno.test("decodePacket() rejects a short packet with a malformed SntpError", () => {
  for (const length of [0, 1, 12, 47]) {
    assert.throws(
      () => decodePacket(new Uint8Array(length)),
      (e) =>
        e instanceof SntpError && e.code === "malformed" && e.message.includes(`${length} bytes`),
    );
  }
});

Deno.test("decodePacket() rejects lengths that are not whole words or too long", () => {
  for (const length of [49, 50, 51, 1028]) {
    assert.throws(
      () => decodePacket(new Uint8Array(length)),
      (e) => e instanceof SntpError && e.code === "malformed",
    );
  }
});

Deno.test("decodePacket() ignores word-aligned extension fields after the header", () => {
  const bytes = new Uint8Array(48 + 20);
  bytes.set(encodePacket(serverReply()));
  bytes.fill(0xff, 48);
  assert.deepEqual(decodePacket(bytes), serverReply());
});

Deno.test("decodePacket() reads a packet at a non-zero offset in its buffer", () => {
  const backing = new Uint8Array(4 + 48);
  backing.set(encodePacket(serverReply()), 4);
  assert.deepEqual(decodePacket(backing.subarray(4)), serverReply());
});

Deno.test("validateReply() accepts a synchronised server's reply to our request", () => {
  validateReply(decodePacket(encodePacket(serverReply())), SENT);
});

Deno.test("validateReply() reports the kiss code of a stratum 0 RATE reply", () => {
  const e = rejection(serverReply({ stratum: 0, leap: 3, referenceId: 0x5241_5445 }));
  assert.equal(e.code, "kiss-of-death");
  assert.equal(e.kissCode, "RATE");
  assert.equal(e.message, "server sent kiss-of-death RATE");
});

Deno.test("validateReply() reports a DENY kiss-of-death", () => {
  const e = rejection(serverReply({ stratum: 0, referenceId: 0x4445_4e59 }));
  assert.equal(e.kissCode, "DENY");
});

Deno.test("validateReply() calls stratum 0 without a kiss code unsynchronised", () => {
  const e = rejection(serverReply({ stratum: 0, leap: 3, referenceId: 0 }));
  assert.equal(e.code, "unsynchronised");
  assert.equal(e.kissCode, undefined);
});

Deno.test("validateReply() rejects leap indicator 3 as unsynchronised", () => {
  const e = rejection(serverReply({ leap: 3 }));
  assert.equal(e.code, "unsynchronised");
  assert.match(e.message, /leap indicator 3/);
});

Deno.test("validateReply() rejects stratum 16 and above as unsynchronised", () => {
  for (const stratum of [16, 17, 255]) {
    const e = rejection(serverReply({ stratum }));
    assert.equal(e.code, "unsynchronised");
    assert.match(e.message, new RegExp(`stratum ${stratum}`));
  }
});

Deno.test("validateReply() rejects a reply whose origin is not our transmit timestamp", () => {
  const e = rejection(serverReply({ originTime: { ...SENT, fraction: SENT.fraction + 1 } }));
  assert.equal(e.code, "origin");
  assert.match(e.message, /not for our request/);
});

Deno.test("validateReply() rejects a packet that is not in server mode", () => {
  assert.equal(rejection(serverReply({ mode: 3 })).code, "mode");
  assert.equal(rejection(serverReply({ mode: 5 })).code, "mode");
});

Deno.test("validateReply() rejects versions 0, 5, 6 and 7", () => {
  for (const version of [0, 5, 6, 7]) {
    assert.equal(rejection(serverReply({ version })).code, "version");
  }
});

Deno.test("validateReply() rejects a zero transmit timestamp", () => {
  const e = rejection(serverReply({ transmitTime: { seconds: 0, fraction: 0 } }));
  assert.equal(e.code, "zero-transmit");
});

Deno.test("validateReply() rejects random bytes with a typed error, never anything else", () => {
  for (let i = 0; i < 2000; i++) {
    const bytes = crypto.getRandomValues(new Uint8Array(48));
    try {
      validateReply(decodePacket(bytes), SENT);
    } catch (e) {
      assert.ok(e instanceof SntpError, `unexpected ${e}`);
    }
  }
});

Deno.test("measure() computes the RFC 5905 offset and delay", () => {
  // t1 = 0 s, t2 = 10.002 s, t3 = 10.003 s, t4 = 0.010 s (on our clock)
  const t1 = { seconds: 100_000, fraction: 0 };
  const ms = (n: number) => unixMsToNtp(ntpToUnixMs(t1) + n);
  const m = measure(t1, { receiveTime: ms(10_002), transmitTime: ms(10_003) }, 10);
  // ((t2 - t1) + (t3 - t4)) / 2 = (10002 + 9993) / 2; (t4 - t1) - (t3 - t2) = 10 - 1
  assert.ok(Math.abs(m.offsetMs - 9997.5) < 1e-3, `offset ${m.offsetMs}`);
  assert.ok(Math.abs(m.delayMs - 9) < 1e-3, `delay ${m.delayMs}`);
});

Deno.test("unixMsToNtp() and ntpToUnixMs() round-trip to within a microsecond", () => {
  for (const ms of [0, 1715772379123.456, Date.UTC(2036, 1, 7, 6, 28, 17), Date.UTC(2040, 0, 1)]) {
    assert.ok(Math.abs(ntpToUnixMs(unixMsToNtp(ms)) - ms) < 1e-3, `${ms}`);
  }
});

Deno.test("ntpToUnixMs() puts timestamps with the top bit clear in era 1 (after 2036)", () => {
  const ts = unixMsToNtp(Date.UTC(2040, 0, 1));
  assert.ok(ts.seconds < 0x8000_0000);
  assert.equal(new Date(ntpToUnixMs(ts)).toISOString(), "2040-01-01T00:00:00.000Z");
});

Deno.test("diffMs() subtracts across the 2036 era boundary", () => {
  const before = unixMsToNtp(Date.UTC(2036, 1, 7, 6, 28, 15));
  const after = unixMsToNtp(Date.UTC(2036, 1, 7, 6, 28, 17));
  assert.ok(after.seconds < before.seconds); // the counter wrapped
  assert.equal(diffMs(after, before), 2000);
  assert.equal(diffMs(before, after), -2000);
});

Deno.test("formatReferenceId() shows an address above stratum 1 and ASCII at 0 and 1", () => {
  assert.equal(formatReferenceId(8, 0x7f7f_0101), "127.127.1.1");
  assert.equal(formatReferenceId(2, 0xc000_0201), "192.0.2.1");
  assert.equal(formatReferenceId(1, 0x4750_5300), "GPS");
  assert.equal(formatReferenceId(0, 0x5241_5445), "RATE");
  assert.equal(formatReferenceId(1, 0x0102_0304), "0x01020304");
});
