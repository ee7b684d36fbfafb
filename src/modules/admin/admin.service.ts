import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AuthUser } from '../../common/auth-user.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { PrincipalCache } from '../auth/principal-cache.js';
import { Operation } from '../operations/operation.entity.js';
import { toOperationView } from '../operations/operation.view.js';
import type { OperationView } from '../operations/operation.view.js';
import { User } from '../users/user.entity.js';
import type { UserRole } from '../users/user.entity.js';
import type { ListAllOperationsQueryDto, ListUsersQueryDto, UpdateUserDto } from './dto/admin.dto.js';

/** A user as an administrator sees it: API.md's `user` plus whether it is disabled. */
export interface AdminUserView {
  id: string;
  email: string;
  name: string | null;
  role: UserRole;
  disabled: boolean;
  disabledAt: string | null;
  createdAt: string;
}

export interface AdminOperationView extends OperationView {
  userId: string;
  userEmail: string;
}

function toAdminUserView(user: User): AdminUserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    disabled: user.disabledAt !== null,
    disabledAt: user.disabledAt?.toISOString() ?? null,
    createdAt: user.createdAt.toISOString(),
  };
}

/** `%`, `_` and `\` are literal in the filter, not LIKE wildcards. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/**
 * What administrators may see and change across users. It reads users and operations as a
 * read model (no other module's rules apply to an admin listing); the one write, a user's role or
 * disabled state, revokes that user's logins in the same transaction.
 */
@Injectable()
export class AdminService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly principals: PrincipalCache,
  ) {}

  async listUsers(query: ListUsersQueryDto): Promise<Page<AdminUserView>> {
    const builder = this.dataSource.getRepository(User).createQueryBuilder('u');
    if (query.email)
      builder.andWhere("u.email LIKE :email ESCAPE '\\'", { email: `%${likeLiteral(query.email.toLowerCase())}%` });
    if (query.role) builder.andWhere('u.role = :role', { role: query.role });
    if (query.disabled === true) builder.andWhere('u.disabledAt IS NOT NULL');
    if (query.disabled === false) builder.andWhere('u.disabledAt IS NULL');
    const [users, total] = await builder
      .orderBy('u.createdAt', 'DESC')
      .addOrderBy('u.id', 'ASC')
      .skip((query.page - 1) * query.limit)
      .take(query.limit)
      .getManyAndCount();
    return { items: users.map(toAdminUserView), total, page: query.page, limit: query.limit };
  }

  async updateUser(caller: AuthUser, id: string, patch: UpdateUserDto): Promise<AdminUserView> {
    if (id === caller.id && patch.disabled === true) {
      throw new ConflictException('You cannot disable your own account');
    }
    if (id === caller.id && patch.role !== undefined && patch.role !== 'admin') {
      throw new ConflictException('You cannot remove your own admin role');
    }
    const updated = await this.dataSource.transaction(async (manager) => {
      const user = await manager.findOne(User, { where: { id }, lock: { mode: 'pessimistic_write' } });
      if (!user) throw new NotFoundException('User not found');
      if (patch.role !== undefined) user.role = patch.role;
      if (patch.disabled === true && user.disabledAt === null) {
        user.disabledAt = new Date();
        // Access tokens and API keys already fail for a disabled user (every request re-checks);
        // revoking the logins as well means enabling the account later does not revive them.
        await manager.query(
          `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = 'disabled'
            WHERE user_id = $1 AND revoked_at IS NULL`,
          [id],
        );
      }
      if (patch.disabled === false) user.disabledAt = null;
      return toAdminUserView(await manager.save(user));
    });
    // Committed: every instance's cached login checks of this user go (a role or an account state changed).
    if (patch.role !== undefined || patch.disabled !== undefined) await this.principals.revoked(id);
    return updated;
  }

  async listOperations(query: ListAllOperationsQueryDto): Promise<Page<AdminOperationView>> {
    const builder = this.dataSource
      .getRepository(Operation)
      .createQueryBuilder('o')
      .innerJoin(User, 'u', 'u.id = o.userId')
      .addSelect('u.email', 'user_email');
    if (query.status) builder.andWhere('o.status = :status', { status: query.status });
    if (query.type) builder.andWhere('o.type = :type', { type: query.type });
    if (query.userId) builder.andWhere('o.userId = :userId', { userId: query.userId });
    if (query.storage) builder.andWhere('o.storage = :storage', { storage: query.storage });
    const total = await builder.clone().getCount();
    const { entities, raw } = await builder
      .orderBy('o.createdAt', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .offset((query.page - 1) * query.limit)
      .limit(query.limit)
      .getRawAndEntities<{ user_email: string }>();
    const items = entities.map((operation, index) => ({
      ...toOperationView(operation),
      userId: operation.userId,
      userEmail: raw[index]?.user_email ?? '',
    }));
    return { items, total, page: query.page, limit: query.limit };
  }
}
