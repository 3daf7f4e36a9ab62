import {
  BadRequestException,
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  ParseIntPipe,
  Patch,
} from '@nestjs/common'
import { type InvoicePatch, InvoiceRepository } from './invoice.repository.ts'
import { INVOICE_STATUSES, type InvoiceView } from './invoice.ts'

const DATE = /^\d{4}-\d{2}-\d{2}$/

/** Validate a PATCH body: only known fields, each of the right shape. */
function parsePatch(body: unknown): InvoicePatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('expected a JSON object')
  }
  const patch: InvoicePatch = {}
  for (const [key, value] of Object.entries(body)) {
    if (key === 'status') {
      if (!(INVOICE_STATUSES as readonly unknown[]).includes(value)) {
        throw new BadRequestException(`status must be one of ${INVOICE_STATUSES.join(', ')}`)
      }
      patch.status = value as string
    } else if (key === 'description') {
      if (typeof value !== 'string' || value.trim() === '' || value.length > 500) {
        throw new BadRequestException('description must be a non-empty string of at most 500 characters')
      }
      patch.description = value
    } else if (key === 'dueAt') {
      if (typeof value !== 'string' || !DATE.test(value) || Number.isNaN(Date.parse(value))) {
        throw new BadRequestException('dueAt must be a date YYYY-MM-DD')
      }
      patch.dueAt = value
    } else {
      throw new BadRequestException(`unknown field "${key}"`)
    }
  }
  if (Object.keys(patch).length === 0) throw new BadRequestException('nothing to change')
  return patch
}

/** GET and PATCH /invoices/:id. */
@Controller('invoices')
export class InvoicesController {
  constructor(@Inject(InvoiceRepository) private readonly invoices: InvoiceRepository) {}

  @Get(':id')
  async find(@Param('id', ParseIntPipe) id: number): Promise<InvoiceView> {
    const invoice = await this.invoices.findById(id)
    if (invoice === null) throw new NotFoundException(`invoice ${id} not found`)
    return invoice
  }

  @Patch(':id')
  update(@Param('id', ParseIntPipe) id: number, @Body() body: unknown): Promise<InvoiceView> {
    return this.invoices.update(id, parsePatch(body))
  }
}
