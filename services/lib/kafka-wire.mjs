// The part of Kafka's wire protocol the harness speaks, with no client library: the request
// framing (header v1 and the flexible header v2), the flexible-version encodings, and the
// broker's health check (ApiVersions, then Metadata with at least one broker and a controller).

import { hostPort } from './common.mjs'
import { tcpExchange } from './tcp.mjs'

// Kafka wire protocol, just enough for a health check. Request header v1: api_key int16,
// api_version int16, correlation_id int32, client_id string(int16 length). Responses start with
// int32 size and int32 correlation id. ApiVersions v0 is accepted by every broker since 0.10 and
// tells which Metadata versions this broker takes; Metadata (v4..v8, the non-flexible ones) then
// proves the broker has joined the KRaft quorum and knows a controller.
export function kafkaRequest(apiKey, apiVersion, correlationId, body) {
  const clientId = Buffer.from('ayala-services')
  const header = Buffer.alloc(10)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(clientId.length, 8)
  const payload = Buffer.concat([header, clientId, body])
  const size = Buffer.alloc(4)
  size.writeInt32BE(payload.length, 0)
  return Buffer.concat([size, payload])
}

export function kafkaFrame(buf) {
  if (buf.length < 4) return null
  const size = buf.readInt32BE(0)
  if (buf.length < 4 + size) return null
  return buf.subarray(4, 4 + size)
}

export async function checkKafkaBroker(host, port, useTls = false, ca = undefined) {
  let metadataVersion = null
  const apiVersions = await tcpExchange({
    host,
    port,
    useTls,
    ca,
    onConnect: (s) => s.write(kafkaRequest(18, 0, 1, Buffer.alloc(0))),
    onData: (buf) => {
      const frame = kafkaFrame(buf)
      if (!frame) return null
      const error = frame.readInt16BE(4)
      if (error !== 0) return { ok: false, detail: `ApiVersions error ${error}` }
      const n = frame.readInt32BE(6)
      for (let i = 0, o = 10; i < n; i++, o += 6) {
        if (frame.readInt16BE(o) === 3) {
          const min = frame.readInt16BE(o + 2)
          const max = frame.readInt16BE(o + 4)
          const v = Math.max(min, 4)
          if (v <= Math.min(max, 8)) metadataVersion = v
        }
      }
      return metadataVersion === null
        ? { ok: false, detail: 'broker offers no Metadata version between 4 and 8' }
        : { ok: true }
    },
  })
  if (!apiVersions.ok) return apiVersions
  // Metadata request body: topics = null (int32 -1), allow_auto_topic_creation = false (v4+),
  // then for v8 the two include_*_authorized_operations booleans.
  const body = Buffer.alloc(metadataVersion >= 8 ? 7 : 5)
  body.writeInt32BE(-1, 0)
  const v = metadataVersion
  return tcpExchange({
    host,
    port,
    useTls,
    ca,
    onConnect: (s) => s.write(kafkaRequest(3, v, 2, body)),
    onData: (buf) => {
      const frame = kafkaFrame(buf)
      if (!frame) return null
      let o = 4 + 4 // correlation id, throttle_time_ms
      const brokers = frame.readInt32BE(o)
      o += 4
      for (let i = 0; i < brokers; i++) {
        o += 4 // node_id
        o += 2 + frame.readInt16BE(o) // host
        o += 4 // port
        const rack = frame.readInt16BE(o)
        o += 2 + Math.max(rack, 0)
      }
      const clusterIdLen = frame.readInt16BE(o)
      o += 2 + Math.max(clusterIdLen, 0)
      const controller = frame.readInt32BE(o)
      if (brokers < 1) return { ok: false, detail: 'metadata lists no broker yet' }
      if (controller < 0) return { ok: false, detail: 'no active controller yet' }
      return { ok: true, detail: `${brokers} broker(s), controller ${controller}` }
    },
  })
}

export async function checkKafka(url) {
  const brokers = url
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean)
  let last = { ok: false, detail: 'no broker in KAFKA_BROKERS' }
  for (const b of brokers) {
    const { host, port } = hostPort(b, 9092)
    last = await checkKafkaBroker(host, port)
    if (last.ok) return last
  }
  return last
}

// Kafka's flexible versions (KIP-482): unsigned varints, compact strings/bytes/arrays (length + 1),
// and a tagged-field section (0 = none) after each structure and in the v2 request header.
export function uvarint(n) {
  const out = []
  let v = n >>> 0
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80)
    v >>>= 7
  }
  out.push(v)
  return Buffer.from(out)
}

export function readUvarint(buf, o) {
  let value = 0
  let shift = 0
  for (;;) {
    const b = buf[o++]
    value |= (b & 0x7f) << shift
    if ((b & 0x80) === 0) return [value >>> 0, o]
    shift += 7
  }
}

export const compactBytes = (b) => Buffer.concat([uvarint(b.length + 1), b])
export const compactString = (s) => compactBytes(Buffer.from(s, 'utf8'))
export const int8 = (n) => Buffer.from([n])
export const int32 = (n) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n, 0)
  return b
}

/** A flexible request (header v2: the v1 header plus an empty tagged-field section). */
export function kafkaFlexibleRequest(apiKey, apiVersion, correlationId, body) {
  return kafkaRequest(apiKey, apiVersion, correlationId, Buffer.concat([uvarint(0), body]))
}
