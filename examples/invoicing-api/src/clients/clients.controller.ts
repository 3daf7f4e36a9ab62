import {
  Body,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Patch,
  Post,
  Query,
  UseInterceptors,
} from '@nestjs/common'
import { parseClientInput, parseClientPatch } from '../validation/bodies.ts'
import { CursorPipe, decodeCursor } from '../validation/cursor.ts'
import { IdPipe, InputInterceptor, IntegerPipe, InvalidInputException } from '../validation/input.ts'
import { type ClientPage, ClientRepository } from './client.repository.ts'
import type { ClientView } from './client.ts'

/** POST /clients, GET /clients (keyset pages by id), GET and PATCH /clients/:id. */
@Controller('clients')
@UseInterceptors(InputInterceptor)
export class ClientsController {
  constructor(@Inject(ClientRepository) private readonly clients: ClientRepository) {}

  @Get()
  list(
    @Query('cursor', CursorPipe) cursor: string | undefined,
    @Query('limit', new IntegerPipe(1, 100, 20)) limit: number,
  ): Promise<ClientPage> {
    let after: number | undefined
    if (cursor !== undefined) {
      const [id, ...rest] = decodeCursor('cursor', cursor, 'clients', '')
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1 || rest.length > 0) {
        throw new InvalidInputException('cursor', 'cursor is not a client position')
      }
      after = id
    }
    return this.clients.list(after, limit)
  }

  @Post()
  create(@Body() body: unknown): Promise<ClientView> {
    return this.clients.create(parseClientInput(body))
  }

  @Get(':id')
  async find(@Param('id', IdPipe) id: number): Promise<ClientView> {
    const client = await this.clients.findById(id)
    if (client === null) throw new NotFoundException(`client ${id} not found`)
    return client
  }

  @Patch(':id')
  update(@Param('id', IdPipe) id: number, @Body() body: unknown): Promise<ClientView> {
    return this.clients.update(id, parseClientPatch(body))
  }
}
