/**
 * The labels of microservice handler calls, on Nest's own execution context and transport
 * context classes (no network: the transports themselves are exercised by
 * `microservice.test.ts`).
 */
import 'reflect-metadata'
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js'
import {
  EventPattern,
  GrpcMethod,
  KafkaContext,
  MessagePattern,
  MqttContext,
  RedisContext,
  TcpContext,
  Transport,
} from '@nestjs/microservices'
import { transformPatternToRoute } from '@nestjs/microservices/utils/transform-pattern.utils.js'
import { describe, expect, it } from 'vitest'
import { messagePatternRoute } from '../../../src/metrics/index.js'
import { describeRoute } from '../../../src/metrics/route-info.js'

class SqsContext {
  constructor(readonly queue: string) {}
}

class InvoicesController {
  @MessagePattern('invoice.find')
  find(_data: unknown) {
    return 'find'
  }

  @MessagePattern({ v: 2, cmd: 'find', scope: { tenant: 'eu', shard: 3 } })
  findObject(_data: unknown) {
    return 'findObject'
  }

  @EventPattern('invoice.paid')
  paid(_data: unknown) {
    return 'paid'
  }

  @MessagePattern(['invoice.get', { cmd: 'get' }])
  get(_data: unknown) {
    return 'get'
  }

  @MessagePattern('invoice.tcp-only', Transport.TCP)
  tcpOnly(_data: unknown) {
    return 'tcpOnly'
  }

  @MessagePattern('invoice.sqs', Symbol('sqs'))
  custom(_data: unknown) {
    return 'custom'
  }

  @GrpcMethod('InvoiceService', 'Find')
  grpcFind(_data: unknown) {
    return 'grpcFind'
  }

  notAHandler(_data: unknown) {
    return 'notAHandler'
  }
}

function rpcCall(handler: (...args: never[]) => unknown, rpcContext: unknown) {
  const context = new ExecutionContextHost([{ id: '1' }, rpcContext], InvoicesController, handler)
  context.setType('rpc')
  return describeRoute(context)
}

const proto = InvoicesController.prototype

describe('messagePatternRoute', () => {
  it.each([
    'invoice.find',
    42,
    { cmd: 'find' },
    { v: 2, cmd: 'find', scope: { tenant: 'eu', shard: 3 } },
    { 'quo"te': 'back\\slash', on: true, nothing: null },
    { B: 1, a: 2, C: { z: 1, y: 2 } },
  ])('writes %j as Nest routes it', (pattern) => {
    expect(messagePatternRoute(pattern)).toBe(transformPatternToRoute(pattern as never))
  })

  it('gives an object pattern the same label whatever the order of its keys', () => {
    expect(messagePatternRoute({ v: 1, cmd: 'find' })).toBe('{"cmd":"find","v":1}')
    expect(messagePatternRoute({ cmd: 'find', v: 1 })).toBe('{"cmd":"find","v":1}')
  })
})

describe('describeRoute for microservice handlers', () => {
  it('labels a handler by its pattern and the transport of its context', () => {
    expect(rpcCall(proto.find, new RedisContext(['invoice.find']))).toEqual({
      transport: 'rpc',
      method: 'REDIS',
      route: 'invoice.find',
    })
    expect(rpcCall(proto.find, new TcpContext([undefined as never, 'invoice.find']))).toEqual({
      transport: 'rpc',
      method: 'TCP',
      route: 'invoice.find',
    })
    expect(rpcCall(proto.paid, new KafkaContext([] as never)).method).toBe('KAFKA')
    expect(rpcCall(proto.paid, new SqsContext('q'))).toEqual({
      transport: 'rpc',
      method: 'SQS',
      route: 'invoice.paid',
    })
    expect(rpcCall(proto.paid, undefined).method).toBe('RPC')
  })

  it('writes object patterns with sorted keys', () => {
    expect(rpcCall(proto.findObject, new RedisContext(['x'])).route).toBe(
      '{"cmd":"find","scope":{"shard":3,"tenant":"eu"},"v":2}',
    )
  })

  it('labels by the declared pattern, never by the concrete channel or topic', () => {
    // An MQTT wildcard subscription or a Redis psubscribe hands the concrete topic to the context.
    expect(rpcCall(proto.find, new MqttContext(['invoice/find/eu-1', {} as never])).route).toBe(
      'invoice.find',
    )
  })

  it('picks the pattern a message came in on for a handler with several, or names all of them', () => {
    expect(rpcCall(proto.get, new RedisContext(['{"cmd":"get"}'])).route).toBe('{"cmd":"get"}')
    expect(rpcCall(proto.get, new TcpContext([undefined as never, 'invoice.get'])).route).toBe('invoice.get')
    expect(rpcCall(proto.get, new SqsContext('q')).route).toBe('invoice.get | {"cmd":"get"}')
  })

  it('prefers the transport the decorator names', () => {
    expect(rpcCall(proto.tcpOnly, new RedisContext(['invoice.tcp-only'])).method).toBe('TCP')
    expect(rpcCall(proto.custom, new SqsContext('q')).method).toBe('SQS')
    expect(rpcCall(proto.grpcFind, {})).toEqual({
      transport: 'rpc',
      method: 'GRPC',
      route: '{"rpc":"Find","service":"InvoiceService","streaming":"no_stream"}',
    })
  })

  it('falls back to Controller.handler for a handler without a pattern', () => {
    expect(rpcCall(proto.notAHandler, new RedisContext(['x']))).toEqual({
      transport: 'rpc',
      method: 'RPC',
      route: 'InvoicesController.notAHandler',
    })
  })
})
