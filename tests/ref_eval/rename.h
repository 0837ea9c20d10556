/* rename.h -- forced into every file of tests/ref_eval/ (-include): the
 * evaluator as it was before issue 12's optimisation (commit 995c530, plus
 * the features merged into it since, such as mechanism.c of SPEC 5.9),
 * kept verbatim as the reference of tests/test_diffeval.c. Every external
 * symbol gets a ref_ prefix so the reference links beside libpbr's
 * evaluator; the public declarations (pbr/settle.h) are renamed the same
 * way, so the reference is called through ref_pbr_settle_quarter etc.
 */
#ifndef PBR_REF_RENAME_H
#define PBR_REF_RENAME_H
#define cline_cmp ref_cline_cmp
#define clines_free ref_clines_free
#define clines_push ref_clines_push
#define cohort_members ref_cohort_members
#define cohort_windows ref_cohort_windows
#define cwhere_compile ref_cwhere_compile
#define cwhere_free ref_cwhere_free
#define cwhere_match ref_cwhere_match
#define eval_hurdle_line ref_eval_hurdle_line
#define eval_hurdle_missed ref_eval_hurdle_missed
#define eval_mechanism_last_final_on ref_eval_mechanism_last_final_on
#define eval_recovery_lines ref_eval_recovery_lines
#define eval_significant ref_eval_significant
#define eval_volume_lines ref_eval_volume_lines
#define evaluate_outcomes ref_evaluate_outcomes
#define pay_line ref_pay_line
#define pbr_contract_first_quarter ref_pbr_contract_first_quarter
#define pbr_contract_last_quarter ref_pbr_contract_last_quarter
#define pbr_issue_date ref_pbr_issue_date
#define pbr_ledger_computed_total ref_pbr_ledger_computed_total
#define pbr_ledger_copy ref_pbr_ledger_copy
#define pbr_ledger_count ref_pbr_ledger_count
#define pbr_ledger_entry_at ref_pbr_ledger_entry_at
#define pbr_ledger_free ref_pbr_ledger_free
#define pbr_ledger_new ref_pbr_ledger_new
#define pbr_ledger_next_quarter ref_pbr_ledger_next_quarter
#define pbr_ledger_restore ref_pbr_ledger_restore
#define pbr_provisional_lines ref_pbr_provisional_lines
#define pbr_settle_all ref_pbr_settle_all
#define pbr_settle_quarter ref_pbr_settle_quarter
#endif
