import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { QueryFailedError, Repository } from 'typeorm';
import { User, UserRole } from './user.entity.js';

/** What API.md calls `user`. */
export interface UserView {
  id: string;
  email: string;
  name: string | null;
  role: UserRole;
  createdAt: string;
}

export function toUserView(user: User): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    role: user.role,
    createdAt: user.createdAt.toISOString(),
  };
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

@Injectable()
export class UsersService {
  constructor(@InjectRepository(User) private readonly users: Repository<User>) {}

  findByEmail(email: string): Promise<User | null> {
    return this.users.findOneBy({ email: normalizeEmail(email) });
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  async create(input: { email: string; name?: string | null; passwordHash: string }): Promise<User> {
    const user = this.users.create({
      email: normalizeEmail(input.email),
      name: input.name ?? null,
      passwordHash: input.passwordHash,
      role: 'user',
    });
    try {
      return await this.users.save(user);
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505') {
        throw new ConflictException('An account with this email already exists');
      }
      throw error;
    }
  }

  async setRole(email: string, role: UserRole): Promise<User | null> {
    const user = await this.findByEmail(email);
    if (!user) return null;
    user.role = role;
    return this.users.save(user);
  }
}
