/**
 * Words after which a model states its final answer, by language. The list follows the
 * answer literals lighteval's multilingual extractive match uses (its translation
 * literals), plus the phrasings models write in practice ("the final answer is",
 * "solution:" is not among them: a solution is the whole text).
 */
export const ANSWER_WORDS = [
  // English, and GSM8K's "#### n"
  'final answer', 'answer', '####',
  // Romance
  'réponse finale', 'réponse', 'reponse', 'respuesta final', 'respuesta', 'resposta', 'risposta', 'răspuns', 'raspuns',
  // Germanic and Nordic
  'endergebnis', 'antwort', 'antwoord', 'svar', 'svaret',
  // Slavic, Baltic, Finno-Ugric, Greek, Turkic
  'ответ', 'відповідь', 'адказ', 'отговор', 'одговор', 'odgovor', 'odpowiedź', 'odpověď', 'odpoveď',
  'vastaus', 'vastus', 'válasz', 'απάντηση', 'cevap', 'javob',
  // South-East Asian, African
  'jawaban', 'jawapan', 'sagot', 'jibu', 'trả lời', 'đáp án', 'đáp số', 'คำตอบ',
  // East Asian
  '最终答案', '答案', '答え', '答', '回答', '解答', '正解', '정답', '답',
  // South Asian, Arabic, Persian
  'उत्तर', 'জবাব', 'উত্তর', 'ਜਵਾਬ', 'જવાબ', 'பதில்', 'జవాబు', 'الإجابة', 'إجابة', 'الجواب', 'جواب', 'پاسخ',
] as const;

const escaped = [...ANSWER_WORDS].sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/**
 * The markers, case-insensitive. A Latin-script word must not continue a longer word
 * ("answered" still counts, as in Math-Verify; "manswer" does not).
 */
export const MARKER = new RegExp(`(?<!\\p{Script=Latin})(?:${escaped.join('|')})`, 'giu');

/** What may stand between a marker and its answer: "is", a colon, bold stars, "est", "是". */
export const MARKER_GLUE = /^(?:\s|\*\*|:|：|is\b|are\b|was\b|will be\b|est\b|es\b|é\b|è\b|ist\b|là\b|是|为|為|は|:)*/iu;
