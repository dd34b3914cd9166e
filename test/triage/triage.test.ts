import { describe, expect, it } from "vitest";
import { CATEGORY_KEYWORDS } from "../../src/triage/rules";
import {
  categorize,
  detectSentiment,
  type EscalationInput,
  escalationDecision,
  isShouting,
  ordinal,
  ruleBasedTriage,
  scorePriority,
  type TriageInput,
  triageSync,
} from "../../src/triage/triage";

const input = (query: string, over: Partial<TriageInput> = {}): TriageInput => ({
  query,
  isVip: false,
  recentQueryCount: 0,
  ...over,
});

describe("categorize", () => {
  it.each([["crash"], ["crashing"], ["bug"], ["error"], ["slow"], ["sync"], ["export"], ["freeze"], ["broken"], ["not working"]])(
    "Technical keyword %s",
    (kw) => {
      expect(categorize(`the screen is ${kw} today`)).toBe("Technical");
    },
  );

  it.each([["charge"], ["charged"], ["refund"], ["payment"], ["invoice"], ["subscription"], ["billing"], ["price"]])("Billing keyword %s", (kw) => {
    expect(categorize(`question about the ${kw} please`)).toBe("Billing");
  });

  it.each([["login"], ["log in"], ["password"], ["profile"], ["email"], ["username"], ["account"], ["2fa"]])("Account keyword %s", (kw) => {
    expect(categorize(`question about the ${kw} please`)).toBe("Account");
  });

  it("every table keyword maps to its own category", () => {
    for (const [cat, words] of Object.entries(CATEGORY_KEYWORDS)) {
      for (const w of words) expect(categorize(w), w).toBe(cat);
    }
  });

  it("is case-insensitive and tolerates extra spaces inside phrases", () => {
    expect(categorize("INVOICE")).toBe("Billing");
    expect(categorize("I cannot LOG   IN")).toBe("Account");
  });

  it("falls back to General", () => {
    expect(categorize("What are your office hours?")).toBe("General");
    expect(categorize("")).toBe("General");
  });

  it("matches whole words only", () => {
    expect(categorize("my phone charger is lost")).toBe("General"); // not "charge"
    expect(categorize("the errorless exporter")).toBe("General");
    expect(categorize("billingsgate accounts")).toBe("General"); // plural not in table
    expect(categorize("no-error here")).toBe("Technical"); // hyphen is a boundary
  });

  it("picks the category with most hits", () => {
    // Account 1 (account), Billing 2 (charged, subscription)
    expect(categorize("my account was charged for the subscription")).toBe("Billing");
    // Technical 2 (error, export), Billing 1 (invoice)
    expect(categorize("error when I export an invoice")).toBe("Technical");
    // Account 2 (password, login), Technical 1 (error)
    expect(categorize("password error at login")).toBe("Account");
  });

  it("breaks ties Billing > Technical > Account", () => {
    expect(categorize("refund for the crash")).toBe("Billing");
    expect(categorize("password sync")).toBe("Technical");
    expect(categorize("invoice email")).toBe("Billing");
  });

  it("guide examples", () => {
    expect(categorize("My application keeps crashing when I try to export data")).toBe("Technical");
    expect(categorize("I was charged twice for the same subscription")).toBe("Billing");
  });
});

describe("detectSentiment", () => {
  it.each([["furious"], ["outraged"], ["hate"], ["worst"], ["terrible"], ["scam"], ["ridiculous"], ["unacceptable"]])("strong word %s → Angry", (w) => {
    expect(detectSentiment(`this is ${w}`)).toBe("Angry");
  });

  it("three all-caps words of 3+ letters → Angry", () => {
    expect(detectSentiment("please FIX THIS NOW for me, the app and the rest are fine")).toBe("Angry");
  });

  it("two all-caps words (or short ones) are not shouting", () => {
    expect(isShouting("please FIX THIS soon for me today")).toBe(false);
    expect(isShouting("I am OK in HR at IT")).toBe(false); // 2-letter words
  });

  it("≥60% capitals among ≥10 letters → Angry", () => {
    expect(isShouting("WHYYYYYY not")).toBe(true); // 7 of 10 letters, only 1 caps word
    expect(detectSentiment("WHYYYYYY not")).toBe("Angry");
    expect(isShouting("WHYYYY not")).toBe(false); // 5 of 8: under 10 letters
    expect(isShouting("WHYYY not ok")).toBe(false); // 5 of 10 = 50%
  });

  it('"!!" → Angry, a single "!" is not', () => {
    expect(detectSentiment("where is my order!!")).toBe("Angry");
    expect(detectSentiment("where is my order!")).toBe("Neutral");
  });

  it.each([
    ["problem"],
    ["issue"],
    ["crash"],
    ["crashing"],
    ["error"],
    ["broken"],
    ["fail"],
    ["charged twice"],
    ["frustrated"],
    ["annoyed"],
    ["wrong"],
    ["can't"],
    ["cannot"],
    ["not working"],
    ["keeps"],
  ])("negative word %s → Negative", (w) => {
    expect(detectSentiment(`it ${w} here`)).toBe("Negative");
  });

  it("curly apostrophe still counts", () => {
    expect(detectSentiment("I can\u2019t open it")).toBe("Negative");
  });

  it.each([["thanks"], ["thank you"], ["great"], ["love"], ["awesome"], ["happy"], ["appreciate"]])("positive word %s → Positive", (w) => {
    expect(detectSentiment(`${w} for the help`)).toBe("Positive");
  });

  it("negative beats positive; angry beats both", () => {
    expect(detectSentiment("thanks, but the export is broken")).toBe("Negative");
    expect(detectSentiment("not happy with this")).toBe("Negative");
    expect(detectSentiment("thanks but this is the worst")).toBe("Angry");
  });

  it("nothing matched → Neutral", () => {
    expect(detectSentiment("How do I change my display name?")).toBe("Neutral");
  });

  it("guide example", () => {
    expect(detectSentiment("My application keeps crashing when I try to export data")).toBe("Negative");
    expect(detectSentiment("I was charged twice for the same subscription")).toBe("Negative");
  });
});

describe("scorePriority", () => {
  it("base by sentiment", () => {
    expect(scorePriority("Positive", 0, false)).toBe(3);
    expect(scorePriority("Neutral", 0, false)).toBe(3);
    expect(scorePriority("Negative", 0, false)).toBe(5);
    expect(scorePriority("Angry", 0, false)).toBe(6);
  });

  it("+2 for a repeat (any recentQueryCount ≥ 1)", () => {
    expect(scorePriority("Neutral", 1, false)).toBe(5);
    expect(scorePriority("Neutral", 5, false)).toBe(5);
  });

  it("+2 for a VIP", () => {
    expect(scorePriority("Negative", 0, true)).toBe(7);
  });

  it("repeat and VIP add up, capped at 10", () => {
    expect(scorePriority("Positive", 1, true)).toBe(7);
    expect(scorePriority("Negative", 3, true)).toBe(9);
    expect(scorePriority("Angry", 9, true)).toBe(10);
  });
});

describe("escalationDecision", () => {
  const base: EscalationInput = {
    text: "hello",
    category: "General",
    sentiment: "Neutral",
    priority: 3,
    recentQueryCount: 0,
  };
  const decide = (over: Partial<EscalationInput>) => escalationDecision({ ...base, ...over });

  it("no trigger → not escalated, null reason", () => {
    expect(decide({})).toEqual({ escalate: false, escalationReason: null });
    expect(decide({ priority: 7, recentQueryCount: 1 })).toEqual({ escalate: false, escalationReason: null });
  });

  it.each([["lawsuit"], ["legal"], ["attorney"], ["lawyer"], ["sue"]])("legal phrase %s", (w) => {
    expect(decide({ text: `I will ${w} you` })).toEqual({
      escalate: true,
      escalationReason: "Legal language detected - requires manual review",
    });
  });

  it('"sue" does not match "issue" or "pursue"', () => {
    expect(decide({ text: "this issue I pursue" }).escalate).toBe(false);
  });

  it("Angry sentiment", () => {
    expect(decide({ sentiment: "Angry", category: "Technical" })).toEqual({
      escalate: true,
      escalationReason: "Angry customer - Technical issue needs human attention",
    });
  });

  it("repeat contact from the 3rd query in 24h", () => {
    expect(decide({ recentQueryCount: 1 }).escalate).toBe(false);
    expect(decide({ recentQueryCount: 2, category: "Account" }).escalationReason).toBe("Repeat contact (3rd query in 24h) - Account issue");
    expect(decide({ recentQueryCount: 3 }).escalationReason).toBe("Repeat contact (4th query in 24h) - General issue");
  });

  it("priority ≥ 8", () => {
    expect(decide({ priority: 7 }).escalate).toBe(false);
    expect(decide({ priority: 8, category: "Technical" }).escalationReason).toBe("High priority (8) - Technical issue - requires manual review");
    expect(decide({ priority: 9, category: "Billing" }).escalationReason).toBe("High priority (9) - Billing dispute - requires manual review");
  });

  it.each([
    ["please refund immediately"],
    ["I want to speak to manager"],
    ["let me speak to a manager"],
    ["talk to manager now"],
    ["talk to your manager"],
    ["this is unacceptable"],
    ["ridiculous"],
  ])("other phrase: %s", (text) => {
    expect(decide({ text, category: "Billing" })).toEqual({
      escalate: true,
      escalationReason: "Billing dispute - requires manual review",
    });
  });

  it("other phrase for a non-Billing category", () => {
    expect(decide({ text: "REFUND immediately", category: "Account" }).escalationReason).toBe("Account issue - requires manual review");
  });

  it("precedence: legal > angry > repeat > priority > other phrase", () => {
    const all = { text: "my lawyer says unacceptable", sentiment: "Angry", recentQueryCount: 4, priority: 10, category: "Billing" } as const;
    expect(decide(all).escalationReason).toBe("Legal language detected - requires manual review");
    expect(decide({ ...all, text: "unacceptable" }).escalationReason).toBe("Angry customer - Billing issue needs human attention");
    expect(decide({ ...all, text: "unacceptable", sentiment: "Negative" }).escalationReason).toBe("Repeat contact (5th query in 24h) - Billing issue");
    expect(decide({ ...all, text: "unacceptable", sentiment: "Negative", recentQueryCount: 1 }).escalationReason).toBe(
      "High priority (10) - Billing dispute - requires manual review",
    );
  });
});

describe("ordinal", () => {
  it("suffixes", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal)).toEqual([
      "1st",
      "2nd",
      "3rd",
      "4th",
      "11th",
      "12th",
      "13th",
      "21st",
      "22nd",
      "23rd",
      "101st",
      "111th",
    ]);
  });
});

describe("ruleBasedTriage", () => {
  it("guide example: crashing export", async () => {
    expect(await ruleBasedTriage.triage(input("My application keeps crashing when I try to export data"))).toEqual({
      category: "Technical",
      sentiment: "Negative",
      priority: 5,
      escalate: false,
      escalationReason: null,
    });
  });

  it("guide example: charged twice, VIP repeat → high priority Billing", async () => {
    const r = await ruleBasedTriage.triage(input("I was charged twice for the same subscription", { isVip: true, recentQueryCount: 1 }));
    expect(r).toEqual({
      category: "Billing",
      sentiment: "Negative",
      priority: 9,
      escalate: true,
      escalationReason: "High priority (9) - Billing dispute - requires manual review",
    });
  });

  it("angry shouting, first contact", async () => {
    expect(await ruleBasedTriage.triage(input("WHY CAN'T I LOGIN"))).toEqual({
      category: "Account",
      sentiment: "Angry",
      priority: 6,
      escalate: true,
      escalationReason: "Angry customer - Account issue needs human attention",
    });
  });

  it("positive general query", () => {
    expect(triageSync(input("Thanks for the quick help"))).toEqual({
      category: "General",
      sentiment: "Positive",
      priority: 3,
      escalate: false,
      escalationReason: null,
    });
  });

  it("supplied category and sentiment win, and priority is computed from the final sentiment", () => {
    const r = triageSync(input("I was charged twice", { isVip: true, supplied: { category: "Account", sentiment: "Positive" } }));
    expect(r).toEqual({
      category: "Account",
      sentiment: "Positive",
      priority: 5,
      escalate: false,
      escalationReason: null,
    });
  });

  it("supplied priority wins and drives escalation", () => {
    expect(triageSync(input("hello", { supplied: { priority: 8 } }))).toEqual({
      category: "General",
      sentiment: "Neutral",
      priority: 8,
      escalate: true,
      escalationReason: "High priority (8) - General issue - requires manual review",
    });
    expect(triageSync(input("I HATE THIS!!", { supplied: { priority: 1, sentiment: "Neutral" } }))).toEqual({
      category: "General",
      sentiment: "Neutral",
      priority: 1,
      escalate: false,
      escalationReason: null,
    });
  });

  it("supplied Angry sentiment escalates with the supplied category", () => {
    expect(triageSync(input("hello", { supplied: { sentiment: "Angry", category: "Billing" } }))).toMatchObject({
      priority: 6,
      escalate: true,
      escalationReason: "Angry customer - Billing issue needs human attention",
    });
  });

  it("rejects an invalid supplied priority", () => {
    for (const p of [0, 11, 2.5, Number.NaN]) {
      expect(() => triageSync(input("hello", { supplied: { priority: p } }))).toThrow(RangeError);
    }
  });

  it("is deterministic", () => {
    const i = input("my lawyer will hear about this broken export", { recentQueryCount: 2 });
    expect(triageSync(i)).toEqual(triageSync(i));
    expect(triageSync(i).escalationReason).toBe("Legal language detected - requires manual review");
  });
});
