// Types of chaos.mjs for the TypeScript side (test/setup/receiver.ts, test/soak/soak.test.ts).
export type ChaosAnswer = number | "hang" | "close";
export declare const CHAOS_MIX: Record<string, number>;
export declare function chaosAnswer(deliveryId: string, attempt: number, mix?: Record<string, number>): ChaosAnswer;
export declare function expectedOutcome(answers: ChaosAnswer[], maxAttempts?: number): { status: "success" | "failed" | "pending"; attempts: number };
