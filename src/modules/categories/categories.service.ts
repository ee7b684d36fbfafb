import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { EntityManager, Repository } from 'typeorm';
import type { AuthUser } from '../../common/auth-user.js';
import { eventLoopSliceDue, yieldEventLoop } from '../../common/event-loop-slice.js';
import type { Page } from '../../common/dto/pagination.dto.js';
import { createWithinCap } from '../../common/per-user-cap.js';
import type { AppConfig } from '../../config/app-config.js';
import { APP_CONFIG } from '../../config/config.module.js';
import { BUILT_IN_CATEGORIES, OTHER_CATEGORY } from './built-in-categories.js';
import { Categorizer } from './categorizer.js';
import type { CategoryRuleMatcher } from './categorizer.js';
import { CategoryRule } from './category-rule.entity.js';
import { templateProblem } from './destination-template.js';
import type { CreateCategoryRuleDto, UpdateCategoryRuleDto } from './dto/category-rule.dto.js';
import { reservedNameProblem } from '../storage/user-path.js';
import { globProblem } from './name-glob.js';
import { compileNameRegex, regexProblem } from './name-regex.js';
import { toRuleMatcher } from './rule-matcher.js';

export interface CategoryView {
  id: string;
  name: string;
  builtIn: boolean;
  extensions: string[];
  mimeTypes: string[];
  namePattern: string | null;
  nameRegex: string | null;
  modifiedAfter: string | null;
  modifiedBefore: string | null;
  olderThanDays: number | null;
  newerThanDays: number | null;
  exclude: boolean;
  minSize: number | null;
  maxSize: number | null;
  priority: number | null;
  template: string | null;
}

const BUILT_IN_PREFIX = 'builtin:';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const BUILT_INS: CategoryView[] = [
  ...Object.entries(BUILT_IN_CATEGORIES).map(([name, extensions]) => ({ name, extensions: [...extensions] })),
  { name: OTHER_CATEGORY, extensions: [] },
].map(({ name, extensions }) => ({
  id: `${BUILT_IN_PREFIX}${name}`,
  name,
  builtIn: true,
  extensions,
  mimeTypes: [],
  namePattern: null,
  nameRegex: null,
  modifiedAfter: null,
  modifiedBefore: null,
  olderThanDays: null,
  newerThanDays: null,
  exclude: false,
  minSize: null,
  maxSize: null,
  priority: null,
  template: null,
}));

function toView(rule: CategoryRule): CategoryView {
  return {
    id: rule.id,
    name: rule.name,
    builtIn: false,
    extensions: rule.extensions,
    mimeTypes: rule.mimeTypes,
    namePattern: rule.namePattern,
    nameRegex: rule.nameRegex,
    modifiedAfter: rule.modifiedAfter?.toISOString() ?? null,
    modifiedBefore: rule.modifiedBefore?.toISOString() ?? null,
    olderThanDays: rule.olderThanDays,
    newerThanDays: rule.newerThanDays,
    exclude: rule.exclude,
    minSize: rule.minSize,
    maxSize: rule.maxSize,
    priority: rule.priority,
    template: rule.template,
  };
}

const isSet = (value: unknown): boolean => value !== null && value !== undefined;

/** Rejects a rule that matches nothing in particular, or whose glob, regex, bounds or template are unusable. */
export function validateRule(rule: Partial<CategoryRule>): void {
  const criteria =
    (rule.extensions?.length ?? 0) +
    (rule.mimeTypes?.length ?? 0) +
    [
      rule.namePattern,
      rule.nameRegex,
      rule.minSize,
      rule.maxSize,
      rule.modifiedAfter,
      rule.modifiedBefore,
      rule.olderThanDays,
      rule.newerThanDays,
    ].filter(isSet).length;
  if (criteria === 0) {
    throw new BadRequestException(
      'A rule needs at least one of extensions, mimeTypes, namePattern, nameRegex, minSize, maxSize, ' +
        'modifiedAfter, modifiedBefore, olderThanDays, newerThanDays',
    );
  }
  const regexIssue = rule.nameRegex ? regexProblem(rule.nameRegex) : null;
  const problem =
    // The name is the category, and {category} renders it into destinations.
    (rule.name ? reservedNameProblem(rule.name, 'name') : null) ??
    (rule.namePattern ? globProblem(rule.namePattern) : null) ??
    regexIssue ??
    (rule.template
      ? templateProblem(rule.template, {
          matchGroups: rule.nameRegex ? compileNameRegex(rule.nameRegex).groups : undefined,
        })
      : null);
  if (problem) throw new BadRequestException(problem);
  if (rule.minSize != null && rule.maxSize != null && rule.minSize > rule.maxSize) {
    throw new BadRequestException('minSize must not be larger than maxSize');
  }
  if (rule.modifiedAfter && rule.modifiedBefore && rule.modifiedAfter >= rule.modifiedBefore) {
    throw new BadRequestException('modifiedAfter must be before modifiedBefore');
  }
  if (rule.olderThanDays != null && rule.newerThanDays != null && rule.newerThanDays <= rule.olderThanDays) {
    throw new BadRequestException('newerThanDays must be larger than olderThanDays (else no file can match)');
  }
}

/**
 * An ISO 8601 date of a request (class-validator checked the form) as a Date; 400 when it is no
 * real instant. Absent stays undefined, null (PATCH: clear it) stays null.
 */
function requestDate(value: string | null | undefined, field: string): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new BadRequestException(`${field} must be a valid ISO 8601 date`);
  return date;
}

/** The rule a create request describes (not saved, not validated). */
export function ruleFromRequest(userId: string, dto: CreateCategoryRuleDto): Partial<CategoryRule> {
  return {
    userId,
    name: dto.name,
    extensions: (dto.extensions ?? []).map((extension) => extension.toLowerCase()),
    mimeTypes: (dto.mimeTypes ?? []).map((mime) => mime.toLowerCase()),
    namePattern: dto.namePattern ?? null,
    nameRegex: dto.nameRegex ?? null,
    modifiedAfter: requestDate(dto.modifiedAfter, 'modifiedAfter') ?? null,
    modifiedBefore: requestDate(dto.modifiedBefore, 'modifiedBefore') ?? null,
    olderThanDays: dto.olderThanDays ?? null,
    newerThanDays: dto.newerThanDays ?? null,
    exclude: dto.exclude ?? false,
    minSize: dto.minSize ?? null,
    maxSize: dto.maxSize ?? null,
    priority: dto.priority ?? 100,
    template: dto.template ?? null,
  };
}

@Injectable()
export class CategoriesService {
  constructor(
    @InjectRepository(CategoryRule) private readonly rules: Repository<CategoryRule>,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private rulesOf(userId: string): Promise<CategoryRule[]> {
    return this.rules.find({ where: { userId }, order: { priority: 'ASC', createdAt: 'ASC', id: 'ASC' } });
  }

  async list(user: AuthUser): Promise<Page<CategoryView>> {
    const items = [...(await this.rulesOf(user.id)).map(toView), ...BUILT_INS];
    return { items, total: items.length, page: 1, limit: items.length };
  }

  async create(user: AuthUser, dto: CreateCategoryRuleDto): Promise<CategoryView> {
    const rule = this.rules.create(ruleFromRequest(user.id, dto));
    validateRule(rule);
    const cap = {
      what: 'category rules',
      userId: user.id,
      max: this.config.throttles.maxCategoryRulesPerUser,
      count: (manager: EntityManager) => manager.countBy(CategoryRule, { userId: user.id }),
      hint: 'delete one first',
    };
    return toView(await createWithinCap(this.rules.manager, cap, (manager) => manager.save(rule)));
  }

  private async findOwned(user: AuthUser, id: string): Promise<CategoryRule> {
    if (id.startsWith(BUILT_IN_PREFIX))
      throw new BadRequestException('Built-in categories cannot be changed or deleted');
    const rule = UUID.test(id) ? await this.rules.findOneBy({ id, userId: user.id }) : null;
    if (!rule) throw new NotFoundException('Category rule not found');
    return rule;
  }

  async update(user: AuthUser, id: string, dto: UpdateCategoryRuleDto): Promise<CategoryView> {
    const rule = await this.findOwned(user, id);
    const next: CategoryRule = {
      ...rule,
      ...Object.fromEntries(Object.entries(dto).filter(([, value]) => value !== undefined)),
    } as CategoryRule;
    if (dto.extensions) next.extensions = dto.extensions.map((extension) => extension.toLowerCase());
    if (dto.mimeTypes) next.mimeTypes = dto.mimeTypes.map((mime) => mime.toLowerCase());
    const modifiedAfter = requestDate(dto.modifiedAfter, 'modifiedAfter');
    if (modifiedAfter !== undefined) next.modifiedAfter = modifiedAfter;
    const modifiedBefore = requestDate(dto.modifiedBefore, 'modifiedBefore');
    if (modifiedBefore !== undefined) next.modifiedBefore = modifiedBefore;
    // The column is NOT NULL: a PATCH with null means "not an exclude rule".
    next.exclude = next.exclude ?? false;
    validateRule(next);
    return toView(await this.rules.save(next));
  }

  async remove(user: AuthUser, id: string): Promise<void> {
    const rule = await this.findOwned(user, id);
    await this.rules.delete({ id: rule.id, userId: user.id });
  }

  /** The categorizer an operation of this user runs with: own rules first, then the built-ins. */
  async categorizerFor(userId: string): Promise<Categorizer> {
    const matchers: CategoryRuleMatcher[] = [];
    // olderThanDays/newerThanDays count from one instant for the whole plan or listing.
    const now = Date.now();
    for (const rule of await this.rulesOf(userId)) {
      // A pattern not compiled yet in this process costs milliseconds: a hundred of them in a row
      // must not hold up other requests.
      if (eventLoopSliceDue()) await yieldEventLoop();
      matchers.push(toRuleMatcher(rule, now));
    }
    return new Categorizer(matchers);
  }
}
