import { defineProblemTypes } from './problem-type.registry';

const PROSE = {
  title: 'Widget not found',
  meaning: 'No widget has this id.',
  cause: 'A wrong id.',
  action: 'Do not retry unchanged.',
  defaultDetail: 'No widget has this id.',
};
const FACTS = { WIDGET_NOT_FOUND: { status: 404, retryable: false, logLevel: 'info' as const } };

describe('defineProblemTypes: the facts from code, the prose from data, checked when the owner loads', () => {
  it('joins them into one problem type per code', () => {
    expect(defineProblemTypes({ WIDGET_NOT_FOUND: PROSE }, FACTS).WIDGET_NOT_FOUND).toEqual({
      ...PROSE,
      ...FACTS.WIDGET_NOT_FOUND,
    });
  });

  it.each([
    ['a code without prose', {}, /WIDGET_NOT_FOUND has no prose/],
    [
      'prose for a code nobody declares',
      { WIDGET_NOT_FOUND: PROSE, WIDGET_GONE: PROSE },
      /nobody declares: WIDGET_GONE/,
    ],
    ['a missing field', { WIDGET_NOT_FOUND: { ...PROSE, cause: undefined } }, /prose field cause is missing or empty/],
    ['an empty field', { WIDGET_NOT_FOUND: { ...PROSE, title: ' ' } }, /prose field title is missing or empty/],
    ['an unknown field (a typo)', { WIDGET_NOT_FOUND: { ...PROSE, firstChek: 'x' } }, /unknown prose field firstChek/],
  ])('fails loudly on %s', (_what, prose, message) => {
    expect(() => defineProblemTypes(prose as Record<string, Record<string, unknown>>, FACTS)).toThrow(message);
  });
});
