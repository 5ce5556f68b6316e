#include "synth_tables.h"

#include <array>

namespace p2p::sandbox::synth {
namespace {

using sv = std::string_view;

// "Jay" first: the seed's member.
constexpr std::array kMaleGiven{
    sv{"Jay"},     sv{"James"},   sv{"John"},     sv{"Robert"}, sv{"Michael"},  sv{"William"},
    sv{"David"},   sv{"Richard"}, sv{"Joseph"},   sv{"Thomas"}, sv{"Charles"},  sv{"Daniel"},
    sv{"Matthew"}, sv{"Anthony"}, sv{"Mark"},     sv{"Donald"}, sv{"Steven"},   sv{"Paul"},
    sv{"Andrew"},  sv{"Joshua"},  sv{"Kenneth"},  sv{"Kevin"},  sv{"Brian"},    sv{"George"},
    sv{"Timothy"}, sv{"Ronald"},  sv{"Jason"},    sv{"Edward"}, sv{"Jeffrey"},  sv{"Ryan"},
    sv{"Jacob"},   sv{"Gary"},    sv{"Nicholas"}, sv{"Eric"},   sv{"Jonathan"}, sv{"Luis"},
    sv{"Carlos"},  sv{"Wei"},     sv{"Arjun"},    sv{"Malik"},
};

constexpr std::array kFemaleGiven{
    sv{"Mary"},      sv{"Patricia"}, sv{"Jennifer"}, sv{"Linda"},  sv{"Elizabeth"}, sv{"Barbara"},
    sv{"Susan"},     sv{"Jessica"},  sv{"Sarah"},    sv{"Karen"},  sv{"Lisa"},      sv{"Nancy"},
    sv{"Betty"},     sv{"Margaret"}, sv{"Sandra"},   sv{"Ashley"}, sv{"Kimberly"},  sv{"Emily"},
    sv{"Donna"},     sv{"Michelle"}, sv{"Carol"},    sv{"Amanda"}, sv{"Melissa"},   sv{"Deborah"},
    sv{"Stephanie"}, sv{"Rebecca"},  sv{"Laura"},    sv{"Sharon"}, sv{"Cynthia"},   sv{"Kathleen"},
    sv{"Amy"},       sv{"Angela"},   sv{"Anna"},     sv{"Maria"},  sv{"Sofia"},     sv{"Mei"},
    sv{"Priya"},     sv{"Aaliyah"},  sv{"Grace"},    sv{"Chloe"},
};

// "Young" first: the seed's member.
constexpr std::array kFamily{
    sv{"Young"},    sv{"Smith"},     sv{"Johnson"},  sv{"Williams"}, sv{"Brown"},
    sv{"Jones"},    sv{"Garcia"},    sv{"Miller"},   sv{"Davis"},    sv{"Rodriguez"},
    sv{"Martinez"}, sv{"Hernandez"}, sv{"Lopez"},    sv{"Gonzalez"}, sv{"Wilson"},
    sv{"Anderson"}, sv{"Thomas"},    sv{"Taylor"},   sv{"Moore"},    sv{"Jackson"},
    sv{"Martin"},   sv{"Lee"},       sv{"Perez"},    sv{"Thompson"}, sv{"White"},
    sv{"Harris"},   sv{"Sanchez"},   sv{"Clark"},    sv{"Ramirez"},  sv{"Lewis"},
    sv{"Robinson"}, sv{"Walker"},    sv{"Allen"},    sv{"King"},     sv{"Wright"},
    sv{"Scott"},    sv{"Torres"},    sv{"Nguyen"},   sv{"Hill"},     sv{"Flores"},
    sv{"Green"},    sv{"Adams"},     sv{"Nelson"},   sv{"Baker"},    sv{"Hall"},
    sv{"Rivera"},   sv{"Campbell"},  sv{"Mitchell"}, sv{"Carter"},   sv{"Roberts"},
    sv{"Patel"},    sv{"Kim"},       sv{"Chen"},     sv{"O'Brien"},  sv{"Murphy"},
    sv{"Cook"},     sv{"Morgan"},    sv{"Bell"},     sv{"Reyes"},    sv{"Washington"},
};

constexpr std::array kStreets{
    sv{"Main St"},      sv{"Oak Ave"},      sv{"Maple Dr"},        sv{"Cedar Ln"},
    sv{"Pine St"},      sv{"Elm St"},       sv{"Washington Blvd"}, sv{"Lakeview Rd"},
    sv{"Hillcrest Dr"}, sv{"Park Ave"},     sv{"Sunset Blvd"},     sv{"River Rd"},
    sv{"Church St"},    sv{"Highland Ave"}, sv{"Meadow Ln"},       sv{"Forest Dr"},
    sv{"Willow Way"},   sv{"Jefferson St"}, sv{"Franklin Ave"},    sv{"Spring St"},
};

constexpr std::array kPlaces{
    Place{"Springfield", "IL", "627", "217"}, Place{"Columbus", "OH", "432", "614"},
    Place{"Madison", "WI", "537", "608"},     Place{"Austin", "TX", "787", "512"},
    Place{"Denver", "CO", "802", "303"},      Place{"Raleigh", "NC", "276", "919"},
    Place{"Tucson", "AZ", "857", "520"},      Place{"Omaha", "NE", "681", "402"},
    Place{"Richmond", "VA", "232", "804"},    Place{"Boise", "ID", "837", "208"},
    Place{"Albany", "NY", "122", "518"},      Place{"Sacramento", "CA", "958", "916"},
    Place{"Portland", "OR", "972", "503"},    Place{"Nashville", "TN", "372", "615"},
    Place{"Louisville", "KY", "402", "502"},  Place{"Des Moines", "IA", "503", "515"},
};

constexpr std::array kProviders{
    Provider{"Lakeside Family Medicine", "1457382910"},
    Provider{"Riverbend Internal Medicine Associates", "1295837461"},
    Provider{"Northside Community Health Center", "1720394856"},
    Provider{"St. Anne Regional Medical Center", "1093847562"},
    Provider{"Summit Orthopedics and Sports Medicine", "1568203947"},
    Provider{"Valley Diagnostic Laboratory", "1184726390"},
    Provider{"Harborview Urgent Care", "1639502874"},
    Provider{"Pinecrest Pediatrics", "1902837465"},
    Provider{"Meridian Cardiology Group", "1346578290"},
    Provider{"Brookside Behavioral Health", "1875620394"},
    Provider{"Cedar Ridge Women's Health", "1029384756"},
    Provider{"Metro Endoscopy Center", "1748392015"},
};

constexpr std::array kEmployerGroups{
    sv{"Acme Manufacturing Co"},   sv{"Blue River School District"}, sv{"City of Springfield"},
    sv{"Northwind Logistics"},     sv{"Contoso Retail Group"},       sv{"Individual Market"},
    sv{"Fabrikam Health Systems"}, sv{"Tailspin Aerospace"},
};

constexpr std::array kLabTests{
    LabTest{"2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 700, 1800, false},
    LabTest{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 45, 100, false},
    LabTest{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 1300, 2800, false},
    LabTest{"2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 300, 900,
            false},
    LabTest{"13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
            "mg/dL", 600, 1900, false},
    LabTest{"2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 500, 3000, false},
    LabTest{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 5, 16, false},
    LabTest{"718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 110, 170, false},
    LabTest{"2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 1330, 1470, false},
    LabTest{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 33, 53, false},
    LabTest{"6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 35, 120,
            false},
    LabTest{"8867-4", "Heart rate", "/min", 550, 1100, true},
    LabTest{"8310-5", "Body temperature", "Cel", 361, 385, true},
    LabTest{"29463-7", "Body weight", "kg", 450, 1300, true},
    LabTest{"8302-2", "Body height", "cm", 1500, 1950, true},
    LabTest{"39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 180, 400, true},
};

constexpr std::array kDiagnoses{
    Code{"E11.9", "Type 2 diabetes mellitus without complications"},
    Code{"I10", "Essential (primary) hypertension"},
    Code{"E78.5", "Hyperlipidemia, unspecified"},
    Code{"J45.909", "Unspecified asthma, uncomplicated"},
    Code{"M54.50", "Low back pain, unspecified"},
    Code{"K21.9", "Gastro-esophageal reflux disease without esophagitis"},
    Code{"J06.9", "Acute upper respiratory infection, unspecified"},
    Code{"E66.9", "Obesity, unspecified"},
    Code{"N39.0", "Urinary tract infection, site not specified"},
    Code{"M17.11", "Unilateral primary osteoarthritis, right knee"},
    Code{"G43.909", "Migraine, unspecified, not intractable, without status migrainosus"},
    Code{"E03.9", "Hypothyroidism, unspecified"},
    Code{"J30.9", "Allergic rhinitis, unspecified"},
    Code{"F41.1", "Generalized anxiety disorder"},
    Code{"Z00.00", "Encounter for general adult medical examination without abnormal findings"},
    Code{"R51.9", "Headache, unspecified"},
};

constexpr std::array kClaimServices{
    Code{"99213", "Office or other outpatient visit, established patient, low complexity"},
    Code{"99214", "Office or other outpatient visit, established patient, moderate complexity"},
    Code{"99203", "Office or other outpatient visit, new patient, low complexity"},
    Code{"99395", "Periodic preventive medicine visit, 18-39 years"},
    Code{"36415", "Collection of venous blood by venipuncture"},
    Code{"80053", "Comprehensive metabolic panel"},
    Code{"85025", "Complete blood count with automated differential"},
    Code{"83036", "Hemoglobin; glycosylated (A1C)"},
    Code{"80061", "Lipid panel"},
    Code{"93000", "Electrocardiogram, routine, with interpretation and report"},
    Code{"71046", "Radiologic examination, chest; 2 views"},
    Code{"90686", "Influenza virus vaccine, quadrivalent, intramuscular"},
    Code{"97110", "Therapeutic procedure, therapeutic exercises, each 15 minutes"},
    Code{"81002", "Urinalysis, non-automated, without microscopy"},
};

constexpr std::array kProcedures{
    Code{"93000", "Electrocardiogram, routine, with interpretation and report"},
    Code{"71046", "Radiologic examination, chest; 2 views"},
    Code{"45378", "Colonoscopy, flexible; diagnostic"},
    Code{"29881", "Arthroscopy, knee, surgical; with meniscectomy"},
    Code{"97110", "Therapeutic procedure, therapeutic exercises, each 15 minutes"},
    Code{"90686", "Influenza virus vaccine, quadrivalent, intramuscular"},
    Code{"36415", "Collection of venous blood by venipuncture"},
    Code{"20610", "Arthrocentesis, aspiration and/or injection, major joint or bursa"},
    Code{"17110", "Destruction of benign lesions other than skin tags; up to 14 lesions"},
    Code{"11042", "Debridement, subcutaneous tissue; first 20 sq cm or less"},
};

constexpr std::array kMedications{
    Medication{"860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
               "Take 1 tablet by mouth once daily with the evening meal"},
    Medication{"314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth once daily"},
    Medication{"617312", "atorvastatin 40 MG Oral Tablet", "Take 1 tablet by mouth at bedtime"},
    Medication{"197361", "amlodipine 5 MG Oral Tablet", "Take 1 tablet by mouth once daily"},
    Medication{"310965", "ibuprofen 200 MG Oral Tablet",
               "Take 1 to 2 tablets by mouth every 6 hours as needed for pain"},
    Medication{"966247", "levothyroxine sodium 0.05 MG Oral Tablet",
               "Take 1 tablet by mouth every morning on an empty stomach"},
    Medication{"308182", "amoxicillin 250 MG Oral Capsule",
               "Take 1 capsule by mouth three times daily for 10 days"},
    Medication{"745679", "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
               "Inhale 2 puffs every 4 to 6 hours as needed for wheezing"},
    Medication{"310798", "hydrochlorothiazide 25 MG Oral Tablet",
               "Take 1 tablet by mouth once daily in the morning"},
    Medication{"313782", "acetaminophen 325 MG Oral Tablet",
               "Take 2 tablets by mouth every 6 hours as needed"},
    Medication{"312941", "sertraline 50 MG Oral Tablet", "Take 1 tablet by mouth once daily"},
};

constexpr std::array kEncounterTypes{
    EncounterType{"AMB", "185349003", "Encounter for check up"},
    EncounterType{"AMB", "185345009", "Encounter for symptom"},
    EncounterType{"AMB", "162673000", "General examination of patient"},
    EncounterType{"AMB", "439740005", "Postoperative follow-up visit"},
    EncounterType{"AMB", "390906007", "Follow-up encounter"},
    EncounterType{"EMER", "50849002", "Emergency room admission"},
    EncounterType{"IMP", "32485007", "Hospital admission"},
};

constexpr std::array kSpecimenTypes{
    Code{"119297000", "Blood specimen"},
    Code{"122575003", "Urine specimen"},
    Code{"258529004", "Throat swab"},
    Code{"119342007", "Saliva specimen"},
};

}  // namespace

std::span<const std::string_view> MaleGivenNames() { return kMaleGiven; }
std::span<const std::string_view> FemaleGivenNames() { return kFemaleGiven; }
std::span<const std::string_view> FamilyNames() { return kFamily; }
std::span<const std::string_view> Streets() { return kStreets; }
std::span<const Place> Places() { return kPlaces; }
std::span<const Provider> Providers() { return kProviders; }
std::span<const std::string_view> EmployerGroups() { return kEmployerGroups; }
std::span<const LabTest> LabTests() { return kLabTests; }
std::span<const Code> Diagnoses() { return kDiagnoses; }
std::span<const Code> ClaimServices() { return kClaimServices; }
std::span<const Code> Procedures() { return kProcedures; }
std::span<const Medication> Medications() { return kMedications; }
std::span<const EncounterType> EncounterTypes() { return kEncounterTypes; }
std::span<const Code> SpecimenTypes() { return kSpecimenTypes; }

}  // namespace p2p::sandbox::synth
