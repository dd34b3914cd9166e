/**
 * Keyword tables for the rule-based triage. Kept apart from the logic so the
 * vocabulary can grow without touching the decision code.
 *
 * Every entry is matched case-insensitively on whole words (see `phrasePattern`):
 * "sue" does not match "issue", "charge" does not match "charger".
 * Spaces inside a phrase match any run of whitespace.
 */

export const CATEGORY_KEYWORDS = {
  Technical: [
    "crash",
    "crashes",
    "crashed",
    "crashing",
    "bug",
    "bugs",
    "error",
    "errors",
    "slow",
    "sync",
    "syncing",
    "export",
    "exporting",
    "freeze",
    "freezes",
    "freezing",
    "frozen",
    "broken",
    "not working",
    "doesn't work",
    "glitch",
    "timeout",
    "timed out",
    "upload",
    "download",
    "install",
  ],
  Billing: [
    "charge",
    "charged",
    "charges",
    "overcharged",
    "refund",
    "refunds",
    "refunded",
    "payment",
    "payments",
    "invoice",
    "invoices",
    "subscription",
    "subscriptions",
    "billing",
    "billed",
    "bill",
    "price",
    "pricing",
    "receipt",
    "credit card",
  ],
  Account: ["login", "log in", "logged in", "sign in", "password", "profile", "email", "username", "account", "2fa", "two-factor", "locked out", "sign up"],
} as const;

/** Strong words: any one makes the sentiment Angry. */
export const ANGRY_WORDS = [
  "furious",
  "outraged",
  "outrageous",
  "hate",
  "worst",
  "terrible",
  "horrible",
  "awful",
  "scam",
  "ridiculous",
  "unacceptable",
  "disgusting",
  "pathetic",
  "livid",
  "fed up",
];

export const NEGATIVE_WORDS = [
  "problem",
  "problems",
  "issue",
  "issues",
  "crash",
  "crashes",
  "crashed",
  "crashing",
  "error",
  "errors",
  "bug",
  "broken",
  "fail",
  "fails",
  "failed",
  "failing",
  "failure",
  "charged twice",
  "frustrated",
  "frustrating",
  "annoyed",
  "annoying",
  "wrong",
  "can't",
  "cannot",
  "not working",
  "doesn't work",
  "keeps",
  "disappointed",
  "unhappy",
  "not happy",
  "stuck",
  "slow",
  "bad",
];

export const POSITIVE_WORDS = [
  "thanks",
  "thank you",
  "thx",
  "great",
  "love",
  "awesome",
  "happy",
  "appreciate",
  "appreciated",
  "excellent",
  "amazing",
  "wonderful",
  "perfect",
  "helpful",
  "glad",
];

/** Legal language outranks every other escalation rule. */
export const LEGAL_PHRASES = ["lawsuit", "legal", "attorney", "lawyer", "sue"];

/** Other phrases that ask for a human; articles are spelled out as variants. */
export const ESCALATION_PHRASES = [
  "refund immediately",
  "speak to manager",
  "speak to a manager",
  "speak to the manager",
  "speak to your manager",
  "talk to manager",
  "talk to a manager",
  "talk to the manager",
  "talk to your manager",
  "unacceptable",
  "ridiculous",
];

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Whole-word, case-insensitive, global pattern for one phrase. Unicode-aware
 * look-arounds instead of `\b` so accented letters also count as word chars.
 */
export function phrasePattern(phrase: string): RegExp {
  const body = phrase.split(/\s+/).map(escapeRegex).join("\\s+");
  return new RegExp(`(?<![\\p{L}\\p{N}_])${body}(?![\\p{L}\\p{N}_])`, "giu");
}
