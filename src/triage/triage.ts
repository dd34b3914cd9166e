/**
 * Deterministic triage run when a support query is created (the platform's
 * "default agents"). Pure functions: no I/O, no clock, no randomness, so the
 * same input always gives the same result.
 */
import { ANGRY_WORDS, CATEGORY_KEYWORDS, ESCALATION_PHRASES, LEGAL_PHRASES, NEGATIVE_WORDS, POSITIVE_WORDS, phrasePattern } from "./rules";

export const CATEGORIES = ["Technical", "Billing", "Account", "General"] as const;
export type Category = (typeof CATEGORIES)[number];
export const SENTIMENTS = ["Positive", "Neutral", "Negative", "Angry"] as const;
export type Sentiment = (typeof SENTIMENTS)[number];

export interface TriageInput {
  query: string;
  isVip: boolean;
  /** queries by the same user in the 24 h before this one (0 = first) */
  recentQueryCount: number;
  /** values supplied by the caller (the platform's LLM agents); they win over the rules */
  supplied?: { category?: Category; sentiment?: Sentiment; priority?: number };
}

export interface TriageResult {
  category: Category;
  sentiment: Sentiment;
  priority: number;
  escalate: boolean;
  escalationReason: string | null;
}

/** One small interface so a model-backed agent can replace the rules. */
export interface TriageAgent {
  triage(input: TriageInput): Promise<TriageResult>;
}

// Curly apostrophes (phones, word processors) would otherwise miss "can't".
const normalize = (text: string) => text.replace(/[\u2018\u2019]/g, "'");

/** Total occurrences of all phrases in the text. */
export function countHits(text: string, phrases: readonly string[]): number {
  const t = normalize(text);
  return phrases.reduce((n, p) => n + (t.match(phrasePattern(p))?.length ?? 0), 0);
}

const hasAny = (text: string, phrases: readonly string[]) => countHits(text, phrases) > 0;

/**
 * Tie order when several categories score the same number of hits: a money
 * complaint is the costliest to mishandle, then a broken product, then account.
 */
const CATEGORY_TIE_ORDER = ["Billing", "Technical", "Account"] as const;

/** Category with the most keyword hits; ties by CATEGORY_TIE_ORDER; none → General. */
export function categorize(text: string): Category {
  let best: Category = "General";
  let bestHits = 0;
  for (const c of CATEGORY_TIE_ORDER) {
    const hits = countHits(text, CATEGORY_KEYWORDS[c]);
    if (hits > bestHits) [best, bestHits] = [c, hits]; // strict ">" keeps the earlier on ties
  }
  return best;
}

/** Shouting: ≥3 all-caps words of 3+ letters, or ≥60 % capitals among ≥10 letters. */
export function isShouting(text: string): boolean {
  const capsWords = (text.match(/\p{L}+/gu) ?? []).filter((w) => w.length >= 3 && w === w.toUpperCase() && w !== w.toLowerCase());
  if (capsWords.length >= 3) return true;
  const letters = text.match(/\p{L}/gu) ?? [];
  const upper = letters.filter((l) => l !== l.toLowerCase()).length;
  return letters.length >= 10 && upper / letters.length >= 0.6;
}

/** Angry > Negative > Positive > Neutral: a complaint with a "thanks" is still a complaint. */
export function detectSentiment(text: string): Sentiment {
  if (hasAny(text, ANGRY_WORDS) || isShouting(text) || /!{2,}/.test(text)) return "Angry";
  if (hasAny(text, NEGATIVE_WORDS)) return "Negative";
  if (hasAny(text, POSITIVE_WORDS)) return "Positive";
  return "Neutral";
}

const BASE_PRIORITY: Record<Sentiment, number> = { Positive: 3, Neutral: 3, Negative: 5, Angry: 6 };

/** Base by sentiment, +2 for a repeat contact, +2 for a VIP, capped at 10. */
export function scorePriority(sentiment: Sentiment, recentQueryCount: number, isVip: boolean): number {
  const score = BASE_PRIORITY[sentiment] + (recentQueryCount >= 1 ? 2 : 0) + (isVip ? 2 : 0);
  return Math.min(10, score);
}

export interface EscalationInput {
  text: string;
  category: Category;
  sentiment: Sentiment;
  priority: number;
  recentQueryCount: number;
}

export interface EscalationDecision {
  escalate: boolean;
  escalationReason: string | null;
}

/** 1 → "1st", 3 → "3rd", 12 → "12th", 22 → "22nd". */
export function ordinal(n: number): string {
  const teen = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teen ? "th" : (({ 1: "st", 2: "nd", 3: "rd" } as Record<number, string>)[n % 10] ?? "th");
  return `${n}${suffix}`;
}

/** Money problems read as disputes; everything else as an issue of its category. */
const subject = (c: Category) => (c === "Billing" ? "Billing dispute" : `${c} issue`);
const review = (c: Category) => `${subject(c)} - requires manual review`;

/**
 * Whether a human must take over, and why. Exactly one reason is reported, in
 * this precedence (most legally/emotionally urgent first):
 *   1. legal phrase (lawsuit, legal, attorney, lawyer, sue)
 *   2. Angry sentiment
 *   3. repeat contact: recentQueryCount ≥ 2 (3rd query or more in 24 h)
 *   4. priority ≥ 8
 *   5. other escalation phrase (refund immediately, speak to manager, ...)
 */
export function escalationDecision(i: EscalationInput): EscalationDecision {
  const reason = escalationReason(i);
  return { escalate: reason !== null, escalationReason: reason };
}

function escalationReason(i: EscalationInput): string | null {
  if (hasAny(i.text, LEGAL_PHRASES)) return "Legal language detected - requires manual review";
  if (i.sentiment === "Angry") return `Angry customer - ${i.category} issue needs human attention`;
  if (i.recentQueryCount >= 2) {
    return `Repeat contact (${ordinal(i.recentQueryCount + 1)} query in 24h) - ${i.category} issue`;
  }
  if (i.priority >= 8) return `High priority (${i.priority}) - ${review(i.category)}`;
  if (hasAny(i.text, ESCALATION_PHRASES)) return review(i.category);
  return null;
}

/** The HTTP layer validates this; the check here guards other callers. */
function checkPriority(p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 10) throw new RangeError(`priority must be an integer 1..10, got ${p}`);
  return p;
}

/** Synchronous core: supplied values win, and later steps use the final values. */
export function triageSync(input: TriageInput): TriageResult {
  const { query, isVip, recentQueryCount, supplied = {} } = input;
  const category = supplied.category ?? categorize(query);
  const sentiment = supplied.sentiment ?? detectSentiment(query);
  const priority = supplied.priority !== undefined ? checkPriority(supplied.priority) : scorePriority(sentiment, recentQueryCount, isVip);
  const decision = escalationDecision({ text: query, category, sentiment, priority, recentQueryCount });
  return { category, sentiment, priority, ...decision };
}

export const ruleBasedTriage: TriageAgent = {
  triage: async (input) => triageSync(input),
};
