import {
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Patch,
  UseInterceptors,
} from '@nestjs/common'
import {
  dateValue,
  enumValue,
  IdPipe,
  InputInterceptor,
  InvalidInputException,
  textValue,
} from '../validation/input.ts'
import { type InvoicePatch, InvoiceRepository } from './invoice.repository.ts'
import { INVOICE_STATUSES, type InvoiceView } from './invoice.ts'

/** Validate a PATCH body: only known fields, each of the right shape (see validation/input.ts). */
function parsePatch(body: unknown): InvoicePatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new InvalidInputException('body', 'expected a JSON object')
  }
  const patch: InvoicePatch = {}
  for (const [key, value] of Object.entries(body)) {
    if (key === 'status') {
      patch.status = enumValue(key, value, INVOICE_STATUSES)
    } else if (key === 'description') {
      // VARCHAR(500): 500 code units are never more than 500 characters.
      patch.description = textValue(key, value, { maxLength: 500 })
    } else if (key === 'dueAt') {
      patch.dueAt = dateValue(key, value)
    } else {
      throw new InvalidInputException(key, `unknown field "${key}"`)
    }
  }
  if (Object.keys(patch).length === 0) throw new InvalidInputException('body', 'nothing to change')
  return patch
}

/** GET and PATCH /invoices/:id. */
@Controller('invoices')
@UseInterceptors(InputInterceptor)
export class InvoicesController {
  constructor(@Inject(InvoiceRepository) private readonly invoices: InvoiceRepository) {}

  @Get(':id')
  async find(@Param('id', IdPipe) id: number): Promise<InvoiceView> {
    const invoice = await this.invoices.findById(id)
    if (invoice === null) throw new NotFoundException(`invoice ${id} not found`)
    return invoice
  }

  @Patch(':id')
  update(@Param('id', IdPipe) id: number, @Body() body: unknown): Promise<InvoiceView> {
    return this.invoices.update(id, parsePatch(body))
  }
}
