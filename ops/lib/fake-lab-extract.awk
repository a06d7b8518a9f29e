# Writes a synthetic laboratory database extract as SQL: invented patients
# and results, no real data. Usage: awk -v rows=N -f fake-lab-extract.awk
BEGIN {
    srand(491840)
    split("Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia David", last, " ")
    split("Camille Louise Lea Manon Chloe Emma Jade Lucas Hugo Louis Jules Gabriel Arthur Nathan Paul Adam", first, " ")
    split("A+ A- B+ B- AB+ AB- O+ O-", blood, " ")
    split("glucose creatinine hemoglobin cholesterol ferritin TSH CRP potassium", test, " ")
    print "-- Synthetic extract for a demonstration: every row is invented."
    print "BEGIN;"
    print "CREATE TABLE patient (id integer PRIMARY KEY, last_name text, first_name text, birth_date date, insurance_number text, blood_group text);"
    print "CREATE TABLE result (patient_id integer REFERENCES patient, test text, value numeric, taken_at timestamp);"
    for (i = 1; i <= rows; i++) {
        printf "INSERT INTO patient VALUES (%d, '%s', '%s', '%04d-%02d-%02d', 'FAKE-%06d%07d', '%s');\n",
            i, last[int(rand() * 16) + 1], first[int(rand() * 16) + 1],
            1930 + int(rand() * 90), 1 + int(rand() * 12), 1 + int(rand() * 28),
            int(rand() * 1e6), int(rand() * 1e7), blood[int(rand() * 8) + 1]
        for (j = 0; j < 3; j++) {
            printf "INSERT INTO result VALUES (%d, '%s', %.2f, '2021-%02d-%02d %02d:%02d');\n",
                i, test[int(rand() * 8) + 1], rand() * 200, 1 + int(rand() * 12), 1 + int(rand() * 28), int(rand() * 24), int(rand() * 60)
        }
    }
    print "COMMIT;"
}
