import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
  UseInterceptors,
} from '@nestjs/common'
import { parseInvoiceInput, parseInvoicePatch } from '../validation/bodies.ts'
import { CursorPipe, decodeCursor } from '../validation/cursor.ts'
import {
  DatePipe,
  EnumPipe,
  IdPipe,
  INT_MAX,
  InputInterceptor,
  IntegerPipe,
  InvalidInputException,
  OptionalIdPipe,
  OptionalIntegerPipe,
} from '../validation/input.ts'
import { type DeletedInvoice, InvoiceRepository } from './invoice.repository.ts'
import { INVOICE_STATUSES, type InvoiceView } from './invoice.ts'
import {
  InvoiceListRepository,
  type InvoicePage,
  type ListFilters,
  listPosition,
  listScope,
} from './invoice-list.ts'

/** POST /invoices, GET /invoices (cached pages), GET, PATCH and DELETE /invoices/:id. */
@Controller('invoices')
@UseInterceptors(InputInterceptor)
export class InvoicesController {
  constructor(
    @Inject(InvoiceRepository) private readonly invoices: InvoiceRepository,
    @Inject(InvoiceListRepository) private readonly lists: InvoiceListRepository,
  ) {}

  @Get()
  list(
    @Query('clientId', OptionalIdPipe) clientId: number | undefined,
    @Query('status', new EnumPipe(INVOICE_STATUSES)) status: string | undefined,
    @Query('from', DatePipe) from: string | undefined,
    @Query('to', DatePipe) to: string | undefined,
    @Query('cursor', CursorPipe) cursor: string | undefined,
    @Query('limit', new IntegerPipe(1, 100, 20)) limit: number,
  ): Promise<InvoicePage> {
    if (from !== undefined && to !== undefined && from > to) {
      throw new InvalidInputException('from', 'from must not be after to')
    }
    const filters: ListFilters = { clientId, status, from, to }
    let after: ReturnType<typeof listPosition>
    if (cursor !== undefined) {
      after = listPosition(decodeCursor('cursor', cursor, 'invoices', listScope(filters)))
      if (after === undefined) throw new InvalidInputException('cursor', 'cursor is not a list position')
    }
    return this.lists.page(filters, after, limit)
  }

  @Post()
  create(@Body() body: unknown): Promise<InvoiceView> {
    return this.invoices.create(parseInvoiceInput(body))
  }

  @Get(':id')
  async find(@Param('id', IdPipe) id: number): Promise<InvoiceView> {
    const invoice = await this.invoices.findById(id)
    if (invoice === null) throw new NotFoundException(`invoice ${id} not found`)
    return invoice
  }

  @Patch(':id')
  update(@Param('id', IdPipe) id: number, @Body() body: unknown): Promise<InvoiceView> {
    return this.invoices.update(id, parseInvoicePatch(body))
  }

  @Delete(':id')
  @HttpCode(200)
  remove(
    @Param('id', IdPipe) id: number,
    @Query('version', new OptionalIntegerPipe(1, INT_MAX)) version: number | undefined,
  ): Promise<DeletedInvoice> {
    return this.invoices.remove(id, version)
  }
}
