/**
 * The Prometheus endpoint: a controller created per module (so its path is an option) and
 * {@link prometheusHandler} for applications that serve the registry from their own route.
 */
import { Controller, Get, Inject, Res, type Type } from '@nestjs/common'
import type { Registry } from 'prom-client'
import { AYALA_METRICS_REGISTRY } from './tokens.js'

interface HeaderSettable {
  header?(name: string, value: string): unknown
  setHeader?(name: string, value: string): unknown
}

/** The exposition text and its content type, for a handler of your own. */
export async function prometheusHandler(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() }
}

/**
 * A controller class serving `registry` at `GET <path>` in the Prometheus text format. Works
 * with the Express and Fastify adapters (it sets the header and returns the body).
 */
export function createPrometheusController(path: string): Type<unknown> {
  class PrometheusController {
    constructor(@Inject(AYALA_METRICS_REGISTRY) private readonly registry: Registry) {}

    async metrics(response: HeaderSettable): Promise<string> {
      const { contentType, body } = await prometheusHandler(this.registry)
      if (typeof response.header === 'function') response.header('Content-Type', contentType)
      else response.setHeader?.('Content-Type', contentType)
      return body
    }
  }
  Controller()(PrometheusController)
  const descriptor = Object.getOwnPropertyDescriptor(PrometheusController.prototype, 'metrics')!
  Res({ passthrough: true })(PrometheusController.prototype, 'metrics', 0)
  Get(path)(PrometheusController.prototype, 'metrics', descriptor)
  return PrometheusController
}
